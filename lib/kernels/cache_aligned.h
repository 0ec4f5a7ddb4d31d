#ifndef FERSERVE_LIB_KERNELS_CACHE_ALIGNED_H_
#define FERSERVE_LIB_KERNELS_CACHE_ALIGNED_H_

#include <cstddef>
#include <new>
#include <vector>

namespace fer::kernels {

// Bytes of a cache line, and of an AVX-512 vector.
inline constexpr std::size_t kCacheLineBytes = 64;

// Allocates on cache-line boundaries. The kernels' buffers hold rows of
// pixels whose channels come in multiples of 16 floats, so with the buffer
// aligned every vector load and store stays within one cache line. malloc
// aligns to 16 bytes only (a large block from mmap sits 16 bytes past a page),
// so that otherwise each AVX-512 access spans two lines: the depthwise step,
// which loads each input vector for several windows, ran 1.4 to 1.8 times
// slower.
template <typename T>
struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() = default;
  template <typename U>
  CacheAlignedAllocator(const CacheAlignedAllocator<U>&) {}  // NOLINT: rebinding

  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kCacheLineBytes}));
  }
  void deallocate(T* p, std::size_t) { ::operator delete (p, std::align_val_t{kCacheLineBytes}); }

  template <typename U>
  bool operator==(const CacheAlignedAllocator<U>&) const {
    return true;
  }
  template <typename U>
  bool operator!=(const CacheAlignedAllocator<U>&) const {
    return false;
  }
};

// Floats starting on a cache line.
using CacheAlignedFloats = std::vector<float, CacheAlignedAllocator<float>>;

}  // namespace fer::kernels

#endif  // FERSERVE_LIB_KERNELS_CACHE_ALIGNED_H_
