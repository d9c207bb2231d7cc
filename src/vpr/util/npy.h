// NumPy .npy files (format 1.0), the array format the ecosystem reads.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace vpr {

// An array read as a matrix: rows = first dimension, cols = the product of the others
// (1-D arrays read as 1 x n, 0-d arrays as 1 x 1); `shape` keeps the original dimensions.
struct NpyMatrix {
  std::vector<float> data;  // rows * cols values, row-major, as float32
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int64_t> shape;
  // NumPy dtype of the file, e.g. "<f4", "<f8", "<i8".
  std::string dtype;
  // The exact values of float64 and integer arrays (float32 rounds UTM northings to
  // 0.5 m); empty for float32 arrays, whose `data` is exact.
  std::vector<double> values;
  // Element i (row-major) at full precision.
  double At(int64_t i) const { return values.empty() ? data[i] : values[i]; }
};

// Writes a little-endian float32 array of shape (rows, cols), atomically.
// data: rows * cols values, row-major.
void WriteNpy(const std::string& path, const float* data, int64_t rows, int64_t cols);
// The bytes of that file (for a FileSet).
std::string NpyBytes(const float* data, int64_t rows, int64_t cols);

// Writes a float32 (rows, cols) .npy block by block, for outputs too large to hold in
// memory: into a temporary beside `path` that Commit() renames onto it with the final row
// count in the header. Without Commit() (an exception, a kill) `path` keeps what it had
// and the destructor removes the temporary.
class NpyWriter {
 public:
  NpyWriter(std::string path, int64_t cols);
  ~NpyWriter();
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;
  // n rows of cols floats, row-major.
  void Append(const float* data, int64_t n);
  void Commit();
  // Finishes the temporary and hands it to `set`, which renames it with its siblings.
  void CommitInto(class FileSet& set);
  int64_t rows() const { return rows_; }

 private:
  std::string path_, tmp_;
  std::ofstream out_;
  int64_t cols_, rows_ = 0;
  size_t header_size_ = 0;
  bool committed_ = false;
};

// The header of a .npy file: the dtype as written ("<f4", "|O"), the shape, and the offset
// where the data starts (for an object array, a pickle). Throws vpr::Error naming `what`
// on a malformed header or a Fortran-order array.
struct NpyHeader {
  std::string dtype;
  std::vector<int64_t> shape;
  size_t data_start = 0;
};
NpyHeader ReadNpyHeader(const std::string& bytes, const std::string& what);

// Reads a little-endian C-order array of float32/float64, signed or unsigned integers,
// or bools (all but float32 also kept exactly in `values`).
NpyMatrix ReadNpy(const std::string& path);

// The same from the bytes of a .npy file (e.g. an .npz member); `what` names it at the
// start of error messages, e.g. "member 'a.npy' of 'x.npz'".
NpyMatrix ReadNpyBytes(const std::string& bytes, const std::string& what);

// Descriptors as every command takes them: a float32/float64 .npy of rank 2 (rows x
// dim), every value finite, and `expected_cols` columns when that is > 0. Throws naming
// `flag` (e.g. "--queries"), the file and what to do.
NpyMatrix ReadDescriptorMatrix(const std::string& path, const std::string& flag, int64_t expected_cols = 0);
// ReadDescriptorMatrix's shape checks (2-D, non-empty rows, expected_cols when > 0), for a
// file read in chunks by NpyReader (which checks the dtype).
void CheckDescriptorShape(const std::vector<int64_t>& shape, const std::string& path, const std::string& flag,
                          int64_t expected_cols = 0);

// Index of the first row of a rows x cols matrix holding a NaN or an infinity, or -1.
int64_t FirstNonFiniteRow(const float* data, int64_t rows, int64_t cols);

// Reads the rows of a float32/float64 .npy matrix a chunk at a time, for files too big
// to hold twice (vpr index streams the database into FAISS). Shape as NpyMatrix.
class NpyReader {
 public:
  explicit NpyReader(const std::string& path);
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  // Reads rows [begin, begin + n) into out (n * cols floats; float64 is converted).
  void ReadRows(int64_t begin, int64_t n, float* out);

 private:
  std::string path_;
  std::ifstream file_;
  int64_t rows_ = 0, cols_ = 0, item_size_ = 4, data_start_ = 0;
  std::vector<int64_t> shape_;
};

}  // namespace vpr
