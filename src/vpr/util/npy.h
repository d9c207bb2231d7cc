// NumPy .npy files (format 1.0), the array format the ecosystem reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vpr {

// A float32 array read as a matrix: rows = first dimension, cols = the product of the
// others (1-D arrays read as 1 x n); `shape` keeps the original dimensions.
struct NpyMatrix {
  std::vector<float> data;  // rows * cols values, row-major
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> shape;
};

// Writes a little-endian float32 array of shape (rows, cols), atomically.
// data: rows * cols values, row-major.
void WriteNpy(const std::string& path, const float* data, int64_t rows, int64_t cols);

// Reads a little-endian float32 ('<f4') or float64 ('<f8', converted) C-order array.
NpyMatrix ReadNpy(const std::string& path);

}  // namespace vpr
