// Compiled into every ferserve library so that a concern folder without
// sources of its own still yields a valid (empty) archive.
