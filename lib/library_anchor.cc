// Linked into every ferserve library so that a concern folder whose sources
// are still being written yields a valid (empty) archive.
namespace fer::internal {
int library_anchor = 0;
}  // namespace fer::internal
