// Caps on what the header of an untrusted file may make us allocate: every reader checks
// a declared size against the bytes really there, and a decompressing reader against
// a budget that is generous for real data and bounded for a decompression bomb.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace vpr {

// The longest header a .npy may declare (NumPy itself refuses headers over 10 000 bytes
// unless asked).
constexpr size_t kMaxNpyHeaderBytes = size_t{1} << 16;

// What decompressing `compressed_bytes` of an archive member or a compressed MAT
// variable may yield: 64x its size (ground truth and descriptors compress 2-20x), and
// at least 64 MiB so that small files never hit it.
inline size_t DecompressionBudget(size_t compressed_bytes) {
  return std::max<size_t>(size_t{64} << 20, compressed_bytes > SIZE_MAX / 64 ? SIZE_MAX : 64 * compressed_bytes);
}

// a * b * ...; false when the product overflows.
inline bool CheckedProduct(std::initializer_list<uint64_t> factors, uint64_t* product) {
  uint64_t p = 1;
  for (uint64_t f : factors)
    if (__builtin_mul_overflow(p, f, &p)) return false;
  *product = p;
  return true;
}

}  // namespace vpr
