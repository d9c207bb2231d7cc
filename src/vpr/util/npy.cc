#include "vpr/util/npy.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <regex>
#include <utility>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/size_limits.h"

namespace vpr {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

// at_least: the header's smallest length (NpyWriter reserves room for any row count).
std::string Header(int64_t rows, int64_t cols, size_t at_least = 0) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                     std::to_string(cols) + "), }";
  // Magic (6) + version (2) + header length (2) + dict + '\n', padded to 64 bytes.
  size_t total = 10 + dict.size() + 1;
  if (total < at_least) {
    dict.append(at_least - total, ' ');
    total = at_least;
  }
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::string header(kMagic, 6);
  header.push_back('\x01');
  header.push_back('\x00');
  uint16_t len = static_cast<uint16_t>(dict.size());
  header.push_back(static_cast<char>(len & 0xff));
  header.push_back(static_cast<char>(len >> 8));
  return header + dict;
}

}  // namespace

std::string NpyBytes(const float* data, int64_t rows, int64_t cols) {
  std::string bytes = Header(rows, cols);
  bytes.append(reinterpret_cast<const char*>(data), rows * cols * sizeof(float));
  return bytes;
}

void WriteNpy(const std::string& path, const float* data, int64_t rows, int64_t cols) {
  WriteFileAtomic(path, NpyBytes(data, rows, cols));
}

NpyWriter::NpyWriter(std::string path, int64_t cols)
    : path_(std::move(path)), tmp_(TemporaryFor(path_)), cols_(cols) {
  VPR_CHECK(cols > 0, "internal: .npy rows need at least one column");
  CheckReplaceable(path_);
  RemoveStaleTemporaries(path_);
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::path(path_).has_parent_path()) fs::create_directories(fs::path(path_).parent_path(), ec);
  VPR_CHECK(!ec, "cannot write '", path_, "': cannot create its folder: ", ec.message());
  header_size_ = Header(std::numeric_limits<int64_t>::max(), cols_).size();
  out_.open(tmp_, std::ios::binary | std::ios::trunc);
  VPR_CHECK(out_, "cannot write '", tmp_, "': ", std::strerror(errno), " (check that the folder exists and is writable)");
  const std::string header = Header(0, cols_, header_size_);
  out_.write(header.data(), header.size());
}

NpyWriter::~NpyWriter() {
  if (committed_) return;
  out_.close();
  std::error_code ec;
  std::filesystem::remove(tmp_, ec);
}

void NpyWriter::Append(const float* data, int64_t n) {
  VPR_CHECK(!committed_, "internal: NpyWriter::Append after Commit");
  out_.write(reinterpret_cast<const char*>(data), n * cols_ * sizeof(float));
  VPR_CHECK(out_, "writing '", tmp_, "' failed (disk full?)");
  rows_ += n;
}

void NpyWriter::Commit() {
  FileSet set;
  CommitInto(set);
  set.Commit();
}

void NpyWriter::CommitInto(FileSet& set) {
  VPR_CHECK(!committed_, "internal: NpyWriter committed twice");
  const std::string header = Header(rows_, cols_, header_size_);
  VPR_CHECK(header.size() == header_size_, "internal: .npy header grew");
  out_.seekp(0);
  out_.write(header.data(), header.size());
  out_.flush();
  VPR_CHECK(out_, "writing '", tmp_, "' failed (disk full?)");
  out_.close();
  set.Adopt(tmp_, path_);
  committed_ = true;  // the set removes the temporary if it is not committed
}

namespace {

// The header dict of a .npy file and the offset of its data.
std::string HeaderDict(const std::string& bytes, const std::string& what, size_t* data_start) {
  VPR_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, kMagic, 6) == 0, what, " is not a .npy file (bad magic)");
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else {
    VPR_CHECK(bytes.size() >= 12, what, ": truncated .npy header");
    uint32_t len32;
    std::memcpy(&len32, bytes.data() + 8, 4);
    header_len = len32;
    offset = 12;
  }
  VPR_CHECK(header_len <= kMaxNpyHeaderBytes, what, ": the .npy header claims ", header_len,
            " bytes (NumPy writes well under ", kMaxNpyHeaderBytes, "); the file is corrupt");
  VPR_CHECK(offset + header_len <= bytes.size(), what, ": truncated .npy header");
  *data_start = offset + header_len;
  return bytes.substr(offset, header_len);
}

std::string ParseDescr(const std::string& header, const std::string& what) {
  std::smatch m;
  VPR_CHECK(std::regex_search(header, m, std::regex("'descr':\\s*'([^']*)'")), what, ": no dtype in the header ",
            header);
  return m[1].str();
}

// Kind ('f', 'i', 'u', 'b') and item size of a supported dtype.
std::pair<char, int> ParseDtype(const std::string& dtype, const std::string& what) {
  std::smatch m;
  VPR_CHECK(std::regex_match(dtype, m, std::regex("([<|=>])([fiub])(\\d{1,2})")), what, ": dtype '", dtype,
            "' is not supported: only numeric arrays (float32/float64, integers, bools) are; object and string "
            "arrays need pickle, save a numeric array instead");
  char kind = m[2].str()[0];
  int size = std::stoi(m[3].str());
  bool ok_size = kind == 'f'   ? (size == 4 || size == 8)
                 : kind == 'b' ? size == 1
                               : (size == 1 || size == 2 || size == 4 || size == 8);
  VPR_CHECK(ok_size, what, ": unsupported dtype '", dtype, "' (float32/float64, 1-8 byte integers, bool)");
  VPR_CHECK(m[1].str() != ">" || size == 1, what,
            ": big-endian arrays are not supported; save with arr.astype(arr.dtype.newbyteorder('<'))");
  return {kind, size};
}

std::vector<int64_t> ParseShape(const std::string& header, const std::string& what) {
  VPR_CHECK(header.find("'fortran_order': False") != std::string::npos, what,
            ": Fortran-order arrays are not supported; save with np.ascontiguousarray");
  std::smatch m;
  VPR_CHECK(std::regex_search(header, m, std::regex(R"('shape':\s*\(([\d,\s]*)\))")), what, ": no shape in the header ",
            header);
  std::vector<int64_t> shape;
  std::string dims = m[1].str();
  const std::regex number(R"(\d+)");  // named: sregex_iterator must not keep a temporary
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    VPR_CHECK(it->length() <= 15, what, ": shape (", dims, ") has an absurd dimension; the file is corrupt");
    shape.push_back(std::stoll(it->str()));
  }
  return shape;
}

// rows x cols of a shape (1-D as 1 x n, 0-d as 1 x 1) and its data bytes, overflow-checked.
void MatrixSize(const std::vector<int64_t>& shape, int item_size, const std::string& what, int64_t* rows,
                int64_t* cols, uint64_t* bytes) {
  *rows = shape.size() <= 1 ? 1 : shape[0];
  uint64_t c = 1;
  bool ok = true;
  for (size_t i = shape.size() <= 1 ? 0 : 1; i < shape.size(); ++i)
    ok = ok && !__builtin_mul_overflow(c, static_cast<uint64_t>(shape[i]), &c);
  ok = ok && CheckedProduct({static_cast<uint64_t>(*rows), c, static_cast<uint64_t>(item_size)}, bytes) &&
       c <= static_cast<uint64_t>(INT64_MAX);
  VPR_CHECK(ok, what, ": shape overflows; the file is corrupt");
  // Even with no rows: a reader sizes row buffers by the width.
  VPR_CHECK(c <= (uint64_t{1} << 26), what, ": rows of ", c, " values (more than 2^26) are absurd; the file is corrupt");
  *cols = static_cast<int64_t>(c);
}

template <typename T>
void ConvertExact(const char* src, NpyMatrix& out) {
  for (size_t i = 0; i < out.data.size(); ++i) {
    T v;
    std::memcpy(&v, src + sizeof(T) * i, sizeof(T));
    out.values[i] = static_cast<double>(v);
    out.data[i] = static_cast<float>(v);
  }
}

void ConvertData(const char* src, char kind, int size, NpyMatrix& out) {
  if (out.data.empty()) return;
  if (kind == 'f' && size == 4) {
    std::memcpy(out.data.data(), src, out.data.size() * 4);
    return;
  }
  out.values.resize(out.data.size());
  if (kind == 'f') return ConvertExact<double>(src, out);
  if (kind == 'b' || (kind == 'u' && size == 1)) return ConvertExact<uint8_t>(src, out);
  if (kind == 'u')
    return size == 2   ? ConvertExact<uint16_t>(src, out)
           : size == 4 ? ConvertExact<uint32_t>(src, out)
                       : ConvertExact<uint64_t>(src, out);
  if (size == 1) return ConvertExact<int8_t>(src, out);
  return size == 2   ? ConvertExact<int16_t>(src, out)
         : size == 4 ? ConvertExact<int32_t>(src, out)
                     : ConvertExact<int64_t>(src, out);
}

}  // namespace

NpyHeader ReadNpyHeader(const std::string& bytes, const std::string& what) {
  NpyHeader out;
  std::string header = HeaderDict(bytes, what, &out.data_start);
  out.dtype = ParseDescr(header, what);
  out.shape = ParseShape(header, what);
  return out;
}

NpyMatrix ReadNpyBytes(const std::string& bytes, const std::string& what) {
  const NpyHeader header = ReadNpyHeader(bytes, what);
  NpyMatrix out;
  out.dtype = header.dtype;
  out.shape = header.shape;
  auto [kind, size] = ParseDtype(out.dtype, what);
  uint64_t need = 0;
  MatrixSize(out.shape, size, what, &out.rows, &out.cols, &need);
  const size_t n = static_cast<size_t>(need / size);
  VPR_CHECK(bytes.size() - header.data_start >= need, what, ": file is truncated: expected ", need,
            " bytes of data, found ", bytes.size() - header.data_start);
  out.data.resize(n);
  ConvertData(bytes.data() + header.data_start, kind, size, out);
  return out;
}

NpyMatrix ReadNpy(const std::string& path) { return ReadNpyBytes(ReadFileBytes(path), "'" + path + "'"); }

int64_t FirstNonFiniteRow(const float* data, int64_t rows, int64_t cols) {
  if (cols <= 0) return -1;  // (N, 0) holds no values, however large N claims to be
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      if (!std::isfinite(data[r * cols + c])) return r;
  return -1;
}

void CheckDescriptorShape(const std::vector<int64_t>& shape, const std::string& path, const std::string& flag,
                          int64_t expected_cols) {
  std::string text;
  for (int64_t d : shape) text += (text.empty() ? "" : ", ") + std::to_string(d);
  VPR_CHECK(shape.size() == 2, flag, " '", path, "' has shape (", text,
            "); descriptors must be a 2-D array, one row per image");
  VPR_CHECK(shape[1] > 0, flag, " '", path, "' has shape (", text, "): descriptors of 0 values");
  VPR_CHECK(expected_cols <= 0 || shape[1] == expected_cols, flag, " '", path, "' holds ", shape[1],
            "-d descriptors but ", expected_cols, "-d ones are needed; extract them with the same model");
}

NpyMatrix ReadDescriptorMatrix(const std::string& path, const std::string& flag, int64_t expected_cols) {
  NpyMatrix m = ReadNpy(path);
  VPR_CHECK(m.dtype.size() == 3 && m.dtype[1] == 'f', flag, " '", path, "' holds ", m.dtype,
            " values; descriptors must be float32 or float64 (as vpr extract writes)");
  CheckDescriptorShape(m.shape, path, flag, expected_cols);
  const int64_t bad = FirstNonFiniteRow(m.data.data(), m.rows, m.cols);
  VPR_CHECK(bad < 0, flag, " '", path, "': row ", bad,
            " holds NaN or infinite values; a descriptor with NaN is never found by a search, re-extract it (check "
            "the model's weights and the image)");
  return m;
}

NpyReader::NpyReader(const std::string& path) : path_(path), file_(path, std::ios::binary) {
  VPR_CHECK(file_, "cannot open '", path, "' for reading");
  std::string bytes(12, '\0');
  file_.read(bytes.data(), 12);
  bytes.resize(file_.gcount());
  // The header length sits in the first 10 (v1) or 12 (v2+) bytes; read up to the data.
  // A short or foreign file is left to HeaderDict to reject.
  size_t offset = bytes.size() >= 7 && bytes[6] == '\x01' ? 10 : 12;
  if (bytes.size() >= offset) {
    size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    if (offset == 12) {
      uint32_t len32;
      std::memcpy(&len32, bytes.data() + 8, 4);
      header_len = len32;
    }
    header_len = std::min(header_len, kMaxNpyHeaderBytes + 1);  // HeaderDict rejects it
    bytes.resize(offset + header_len);
    file_.clear();
    file_.seekg(static_cast<std::streamoff>(offset));
    file_.read(bytes.data() + offset, static_cast<std::streamsize>(header_len));
    bytes.resize(offset + file_.gcount());
  }
  size_t data_start = 0;
  std::string header = HeaderDict(bytes, path, &data_start);
  const std::string dtype = ParseDescr(header, path);
  auto [kind, size] = ParseDtype(dtype, path);
  VPR_CHECK(kind == 'f', "'", path, "' holds ", dtype, " values; descriptors must be float32 or float64");
  shape_ = ParseShape(header, path);
  uint64_t need = 0;
  MatrixSize(shape_, size, path, &rows_, &cols_, &need);
  item_size_ = size;
  data_start_ = static_cast<int64_t>(data_start);
  file_.clear();
  file_.seekg(0, std::ios::end);
  const uint64_t have = static_cast<uint64_t>(std::max<int64_t>(0, static_cast<int64_t>(file_.tellg()) - data_start_));
  VPR_CHECK(have >= need, "'", path, "': file is truncated: expected ", need, " bytes of data, found ", have);
}

void NpyReader::ReadRows(int64_t begin, int64_t n, float* out) {
  VPR_CHECK(begin >= 0 && n >= 0 && begin + n <= rows_, "'", path_, "': rows [", begin, ", ", begin + n,
            ") are outside its ", rows_, " rows");
  const int64_t count = n * cols_;
  std::vector<char> raw(item_size_ == 4 ? 0 : count * item_size_);
  char* dst = item_size_ == 4 ? reinterpret_cast<char*>(out) : raw.data();
  file_.clear();
  file_.seekg(data_start_ + begin * cols_ * item_size_);
  file_.read(dst, count * item_size_);
  VPR_CHECK(file_.gcount() == count * item_size_, "'", path_, "': file is truncated: rows [", begin, ", ", begin + n,
            ") are not all there");
  for (int64_t i = 0; item_size_ == 8 && i < count; ++i) {
    double v;
    std::memcpy(&v, raw.data() + 8 * i, 8);
    out[i] = static_cast<float>(v);
  }
}

}  // namespace vpr
