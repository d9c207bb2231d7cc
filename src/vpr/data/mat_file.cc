#include "vpr/data/mat_file.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <mutex>

#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace {

// matio prints its complaints to stderr; route them to our log and keep the last one so
// that our error can quote it.
thread_local std::string last_matio_message;

void MatioLog(int level, char* message) {
  last_matio_message = message ? message : "";
  Log().debug("matio ({}): {}", level, last_matio_message);
}

void RouteMatioLog() {
  static std::once_flag once;
  std::call_once(once, [] { Mat_LogInitFunc("vpr", &MatioLog); });
}

std::string TrimRight(std::string s) {
  size_t end = s.find_last_not_of(std::string(" \0", 2));
  return end == std::string::npos ? "" : s.substr(0, end + 1);
}

void AppendUtf8(uint32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// The characters of a char array, column-major, one code unit each.
std::vector<uint32_t> CharCodes(const matvar_t* v, const std::string& what) {
  VPR_CHECK(v->class_type == MAT_C_CHAR, what, " must be a char array (text), found ", MatClassName(v), " ",
            MatShape(v));
  size_t n = MatNumel(v);
  std::vector<uint32_t> codes(n);
  if (n == 0 || v->data == nullptr) return {};
  size_t unit = v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_INT16 || v->data_type == MAT_T_UTF16   ? 2
                : v->data_type == MAT_T_UINT32 || v->data_type == MAT_T_INT32 || v->data_type == MAT_T_UTF32 ? 4
                                                                                                             : 1;
  VPR_CHECK(v->nbytes >= n * unit, what, ": its ", n, " characters need ", n * unit, " bytes but the file holds ",
            v->nbytes, " (non-ASCII UTF-8 char matrices are not supported; store the names as a cell array)");
  const auto* bytes = static_cast<const unsigned char*>(v->data);
  for (size_t i = 0; i < n; ++i) {
    uint32_t c = 0;
    std::memcpy(&c, bytes + unit * i, unit);  // little-endian host: low bytes first
    codes[i] = c;
  }
  return codes;
}

// Row r of a column-major rows x cols character grid.
std::string CharRow(const std::vector<uint32_t>& codes, size_t rows, size_t cols, size_t r) {
  std::string out;
  for (size_t c = 0; c < cols; ++c) AppendUtf8(codes[r + rows * c], out);
  return TrimRight(out);
}

template <typename T>
void AppendAs(const void* data, size_t n, std::vector<double>& out) {
  const T* p = static_cast<const T*>(data);
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<double>(p[i]));
}

}  // namespace

MatFile::MatFile(const std::string& path) : path_(path) {
  RouteMatioLog();
  VPR_CHECK(std::filesystem::is_regular_file(path), "MAT file '", path, "' does not exist or is not a file");
  last_matio_message.clear();
  mat_ = Mat_Open(path.c_str(), MAT_ACC_RDONLY);
  VPR_CHECK(mat_ != nullptr, "'", path, "' is not a MAT file matio can read (MATLAB v5, v7 or v7.3)",
            last_matio_message.empty() ? "" : ": " + last_matio_message,
            "; save it from MATLAB with save(..., '-v7') or '-v7.3', or with scipy.io.savemat");
}

MatFile::~MatFile() {
  if (mat_) Mat_Close(mat_);
}

std::string MatFile::Version() const {
  switch (Mat_GetVersion(mat_)) {
    case MAT_FT_MAT73:
      return "7.3";
    case MAT_FT_MAT5:
      return "5";
    case MAT_FT_MAT4:
      return "4";
    default:
      return "unknown";
  }
}

std::vector<std::string> MatFile::Variables() {
  size_t n = 0;
  char** dir = Mat_GetDir(mat_, &n);  // owned by mat_
  std::vector<std::string> names;
  for (size_t i = 0; dir && i < n; ++i)
    if (dir[i]) names.push_back(dir[i]);
  return names;
}

MatVarPtr MatFile::Read(const std::string& name) {
  std::vector<std::string> names = Variables();
  std::string found;
  for (const auto& n : names) found += (found.empty() ? "" : ", ") + n;
  bool present = std::find(names.begin(), names.end(), name) != names.end();
  VPR_CHECK(present, "MAT file '", path_, "' has no variable '", name,
            "'; its variables are: ", found.empty() ? "(none)" : found);
  last_matio_message.clear();
  MatVarPtr v(Mat_VarRead(mat_, name.c_str()));
  VPR_CHECK(v != nullptr, "cannot read variable '", name, "' of MAT file '", path_, "'",
            last_matio_message.empty() ? "" : ": " + last_matio_message, "; the file may be truncated");
  return v;
}

std::string MatShape(const matvar_t* v) {
  std::string out;
  for (int i = 0; i < v->rank; ++i) out += (i ? " x " : "") + std::to_string(v->dims[i]);
  return out.empty() ? "(no dimensions)" : out;
}

std::string MatClassName(const matvar_t* v) {
  static const char* kNames[] = {"empty",  "cell",   "struct", "object", "char",     "sparse",
                                 "double", "single", "int8",   "uint8",  "int16",    "uint16",
                                 "int32",  "uint32", "int64",  "uint64", "function", "opaque"};
  int c = static_cast<int>(v->class_type);
  return c >= 0 && c < static_cast<int>(std::size(kNames)) ? kNames[c] : "unknown";
}

size_t MatNumel(const matvar_t* v) {
  size_t n = v->rank > 0 ? 1 : 0;
  for (int i = 0; i < v->rank; ++i) n *= v->dims[i];
  return n;
}

std::vector<double> MatNumbers(const matvar_t* v, const std::string& what) {
  bool numeric = v->class_type >= MAT_C_DOUBLE && v->class_type <= MAT_C_UINT64;
  VPR_CHECK(numeric && !v->isComplex, what, " must be a real numeric array, found ", v->isComplex ? "complex " : "",
            MatClassName(v), " ", MatShape(v));
  size_t n = MatNumel(v);
  std::vector<double> out;
  if (n == 0 || v->data == nullptr) return out;
  out.reserve(n);
  switch (v->data_type) {
    case MAT_T_DOUBLE:
      AppendAs<double>(v->data, n, out);
      break;
    case MAT_T_SINGLE:
      AppendAs<float>(v->data, n, out);
      break;
    case MAT_T_INT8:
      AppendAs<int8_t>(v->data, n, out);
      break;
    case MAT_T_UINT8:
      AppendAs<uint8_t>(v->data, n, out);
      break;
    case MAT_T_INT16:
      AppendAs<int16_t>(v->data, n, out);
      break;
    case MAT_T_UINT16:
      AppendAs<uint16_t>(v->data, n, out);
      break;
    case MAT_T_INT32:
      AppendAs<int32_t>(v->data, n, out);
      break;
    case MAT_T_UINT32:
      AppendAs<uint32_t>(v->data, n, out);
      break;
    case MAT_T_INT64:
      AppendAs<int64_t>(v->data, n, out);
      break;
    case MAT_T_UINT64:
      AppendAs<uint64_t>(v->data, n, out);
      break;
    default:
      VPR_THROW(what, ": unsupported numeric storage type ", static_cast<int>(v->data_type));
  }
  return out;
}

double MatScalar(const matvar_t* v, const std::string& what) {
  std::vector<double> values = MatNumbers(v, what);
  VPR_CHECK(values.size() == 1, what, " must be a single number, found ", MatClassName(v), " ", MatShape(v));
  return values[0];
}

std::vector<std::string> MatStrings(const matvar_t* v, const std::string& what) {
  std::vector<std::string> out;
  if (v->class_type == MAT_C_CELL) {
    size_t n = MatNumel(v);
    for (size_t i = 0; i < n; ++i) {
      const matvar_t* cell = Mat_VarGetCell(const_cast<matvar_t*>(v), static_cast<int>(i));
      VPR_CHECK(cell != nullptr, what, ": cell ", i + 1, " of ", n, " is missing");
      out.push_back(MatString(cell, what + " cell " + std::to_string(i + 1)));
    }
    return out;
  }
  VPR_CHECK(v->class_type == MAT_C_CHAR, what,
            " must be a cell array of names or a char matrix with one name per row, found ", MatClassName(v), " ",
            MatShape(v));
  std::vector<uint32_t> codes = CharCodes(v, what);
  size_t rows = v->rank > 0 ? v->dims[0] : 0;
  size_t cols = rows ? codes.size() / rows : 0;
  for (size_t r = 0; r < rows; ++r) out.push_back(CharRow(codes, rows, cols, r));
  return out;
}

std::string MatString(const matvar_t* v, const std::string& what) {
  std::vector<uint32_t> codes = CharCodes(v, what);
  bool one_line = v->rank == 0 || (v->rank == 2 && (v->dims[0] <= 1 || v->dims[1] <= 1));
  VPR_CHECK(one_line || codes.empty(), what, " must be one line of text, found a char matrix ", MatShape(v));
  return CharRow(codes, 1, codes.size(), 0);
}

std::vector<std::string> MatFieldNames(const matvar_t* v) {
  std::vector<std::string> names;
  if (v->class_type != MAT_C_STRUCT) return names;
  unsigned n = Mat_VarGetNumberOfFields(const_cast<matvar_t*>(v));
  char* const* fields = Mat_VarGetStructFieldnames(v);
  for (unsigned i = 0; fields && i < n; ++i) names.push_back(fields[i]);
  return names;
}

}  // namespace vpr
