#include "vpr/data/mat_file.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <mutex>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"
#include "vpr/util/size_limits.h"

namespace vpr {
namespace {

// MAT v5 data types (MATLAB's "MAT-File Format", table 1-1).
enum : uint32_t {
  kMiInt8 = 1, kMiUint8 = 2, kMiInt16 = 3, kMiUint16 = 4, kMiInt32 = 5, kMiUint32 = 6, kMiSingle = 7,
  kMiDouble = 9, kMiInt64 = 12, kMiUint64 = 13, kMiMatrix = 14, kMiCompressed = 15, kMiUtf8 = 16,
  kMiUtf16 = 17, kMiUtf32 = 18,
};
constexpr size_t kHeaderBytes = 128;
constexpr int kMaxDepth = 32;  // nesting of cells and structs; real files use 2-3
constexpr int kMaxRank = 32;

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
    c = std::min<uint32_t>(c, 0x10FFFF);
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Row r of a column-major rows x cols character grid.
std::string CharRow(const std::vector<uint32_t>& codes, size_t rows, size_t cols, size_t r) {
  std::string out;
  for (size_t c = 0; c < cols; ++c) AppendUtf8(codes[r + rows * c], out);
  return TrimRight(out);
}

bool IsNumericClass(matio_classes c) { return c >= MAT_C_DOUBLE && c <= MAT_C_UINT64; }

// ---- MAT v5: our own parser, every length checked against the bytes that are there.

// One data element: its type and payload.
struct Element {
  uint32_t type = 0;
  const unsigned char* data = nullptr;
  size_t size = 0;
};

class Mat5Parser {
 public:
  Mat5Parser(std::string what, bool swap, size_t budget)
      : what_(std::move(what)), swap_(swap), budget_(budget), total_budget_(budget) {}

  // The variables of a whole file (after its 128-byte header).
  std::vector<MatArray> ParseFile(const unsigned char* begin, const unsigned char* end) {
    std::vector<MatArray> variables;
    const unsigned char* pos = begin;
    while (end - pos >= 8) {
      Element e = Next(pos, end);
      if (e.type == kMiCompressed) {
        const std::string inflated = Inflate(e);
        const auto* ib = reinterpret_cast<const unsigned char*>(inflated.data());
        const unsigned char* ipos = ib;
        Element inner = Next(ipos, ib + inflated.size());
        Require(inner.type == kMiMatrix, "a compressed variable holds data type ", inner.type, ", not a matrix");
        variables.push_back(ParseMatrix(inner, 0));
      } else if (e.type == kMiMatrix) {
        variables.push_back(ParseMatrix(e, 0));
      }  // other top-level elements carry nothing a variable needs
    }
    return variables;
  }

 private:
  template <typename... Args>
  void Require(bool ok, const Args&... args) const {
    VPR_CHECK(ok, what_, " is corrupt: ", args..., "; re-save it with scipy.io.savemat or MATLAB's save -v7");
  }

  uint32_t U32(const unsigned char* p) const {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return swap_ ? __builtin_bswap32(v) : v;
  }

  void Charge(uint64_t bytes) {
    VPR_CHECK(bytes <= budget_, what_, " declares more data than it can hold (over ", total_budget_ >> 20,
              " MiB for a file this size): it is corrupt or a decompression bomb");
    budget_ -= bytes;
  }

  // The element at pos (a tag and its payload, or a small element packed in 8 bytes);
  // pos moves past it and its padding.
  Element Next(const unsigned char*& pos, const unsigned char* end) const {
    Require(end - pos >= 8, "a data element is cut short (", end - pos, " bytes left)");
    Element e;
    const uint32_t first = U32(pos);
    if (first >> 16) {
      e.type = first & 0xFFFF;
      e.size = first >> 16;
      Require(e.size <= 4, "a small data element claims ", e.size, " bytes");
      e.data = pos + 4;
      pos += 8;
      return e;
    }
    e.type = first;
    e.size = U32(pos + 4);
    Require(e.size <= static_cast<size_t>(end - pos - 8), "a data element of ", e.size, " bytes has only ",
            end - pos - 8, " bytes left in the file");
    e.data = pos + 8;
    size_t advance = 8 + e.size;
    if (e.type != kMiCompressed) advance = (advance + 7) / 8 * 8;  // padded to 8 bytes
    pos += std::min<size_t>(advance, end - pos);
    return e;
  }

  std::string Inflate(const Element& e) {
    z_stream z{};
    Require(inflateInit(&z) == Z_OK, "zlib cannot start");
    std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, &inflateEnd);
    z.next_in = const_cast<unsigned char*>(e.data);
    z.avail_in = static_cast<uInt>(std::min<size_t>(e.size, UINT32_MAX));
    std::string out;
    for (;;) {
      const size_t grow = std::max<size_t>(out.size(), 1 << 16);
      Charge(grow);  // throws before a bomb is allocated
      const size_t before = out.size();
      out.resize(before + grow);
      z.next_out = reinterpret_cast<unsigned char*>(out.data() + before);
      z.avail_out = static_cast<uInt>(grow);
      const int rc = inflate(&z, Z_NO_FLUSH);
      out.resize(before + grow - z.avail_out);
      if (rc == Z_STREAM_END) break;
      Require(rc != Z_BUF_ERROR, "a compressed variable is truncated");
      Require(rc == Z_OK, "a compressed variable does not inflate (zlib: ", z.msg ? z.msg : std::to_string(rc), ")");
    }
    return out;
  }

  MatArray ParseMatrix(const Element& e, int depth) {
    Require(depth <= kMaxDepth, "cells or structs nested deeper than ", kMaxDepth);
    Charge(sizeof(MatArray));
    MatArray a;
    if (e.size == 0) {  // an empty array written as a bare tag
      a.dims = {0, 0};
      return a;
    }
    const unsigned char* pos = e.data;
    const unsigned char* end = e.data + e.size;
    Element flags = Next(pos, end);
    Require(flags.type == kMiUint32 && flags.size == 8, "array flags of type ", flags.type, " and ", flags.size,
            " bytes");
    const uint32_t f = U32(flags.data);
    const uint32_t cls = f & 0xFF;
    Require(cls >= MAT_C_CELL && cls <= MAT_C_OPAQUE, "unknown array class ", cls);
    a.class_type = static_cast<matio_classes>(cls);
    a.is_complex = f & 0x0800;
    a.is_logical = f & 0x0200;
    if (a.class_type == MAT_C_OBJECT || a.class_type == MAT_C_FUNCTION || a.class_type == MAT_C_OPAQUE)
      return a;  // MATLAB objects: nothing a ground-truth reader can use; their layout differs
    Element dims = Next(pos, end);
    Require(dims.type == kMiInt32 && dims.size % 4 == 0 && dims.size >= 4 && dims.size <= 4 * kMaxRank,
            "dimensions of type ", dims.type, " and ", dims.size, " bytes");
    for (size_t i = 0; i < dims.size / 4; ++i) {
      const int32_t d = static_cast<int32_t>(U32(dims.data + 4 * i));
      Require(d >= 0, "a negative dimension ", d);
      a.dims.push_back(static_cast<size_t>(d));
    }
    Element name = Next(pos, end);
    Require(name.type == kMiInt8 || name.type == kMiUint8, "an array name of type ", name.type);
    a.name = TrimRight(std::string(reinterpret_cast<const char*>(name.data), name.size));
    const uint64_t numel = MatNumel(a);
    Require(numel != SIZE_MAX, "dimensions ", MatShape(a), " overflow");
    if (IsNumericClass(a.class_type)) {
      ParseNumbers(Next(pos, end), numel, a);
    } else if (a.class_type == MAT_C_CHAR) {
      ParseChars(Next(pos, end), numel, a);
    } else if (a.class_type == MAT_C_CELL) {
      ParseChildren(pos, end, numel, depth, a);
    } else if (a.class_type == MAT_C_STRUCT) {
      Element length = Next(pos, end);
      Require(length.type == kMiInt32 && length.size == 4, "a struct field name length of type ", length.type);
      const uint32_t len = U32(length.data);
      Require(len >= 1 && len <= 4096, "a struct field name length of ", len);
      Element names = Next(pos, end);
      Require(names.type == kMiInt8 || names.type == kMiUint8, "struct field names of type ", names.type);
      const size_t fields = names.size / len;
      Charge(uint64_t{fields} * (len + sizeof(std::string)));
      for (size_t i = 0; i < fields; ++i) {
        const char* p = reinterpret_cast<const char*>(names.data) + i * len;
        a.field_names.emplace_back(p, strnlen(p, len));
      }
      uint64_t children = 0;
      Require(!__builtin_mul_overflow(numel, uint64_t{fields}, &children), "dimensions ", MatShape(a), " overflow");
      ParseChildren(pos, end, children, depth, a);
    }  // sparse: kept as an array without values; readers reject its class
    return a;
  }

  // n arrays, each a miMATRIX element of at least 8 bytes.
  void ParseChildren(const unsigned char*& pos, const unsigned char* end, uint64_t n, int depth, MatArray& a) {
    Require(n <= static_cast<uint64_t>(end - pos) / 8, MatShape(a), " ", MatClassName(a), " needs ", n,
            " arrays but only ", end - pos, " bytes are left");
    Charge(n * sizeof(MatArray));
    a.elements.reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      Element child = Next(pos, end);
      Require(child.type == kMiMatrix, "element ", i + 1, " of a ", MatClassName(a), " has data type ", child.type);
      a.elements.push_back(ParseMatrix(child, depth + 1));
    }
  }

  template <typename T>
  void AppendAs(const unsigned char* p, size_t n, std::vector<double>& out) const {
    for (size_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, p + sizeof(T) * i, sizeof(T));
      if (swap_ && sizeof(T) > 1) {
        unsigned char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        std::reverse(b, b + sizeof(T));
        std::memcpy(&v, b, sizeof(T));
      }
      out.push_back(static_cast<double>(v));
    }
  }

  void ParseNumbers(const Element& e, uint64_t numel, MatArray& a) {
    static const size_t kSize[] = {0, 1, 1, 2, 2, 4, 4, 4, 0, 8, 0, 0, 8, 8};
    Require(e.type < std::size(kSize) && kSize[e.type] > 0, "numeric data of type ", e.type);
    const size_t size = kSize[e.type];
    Require(e.size % size == 0 && e.size / size == numel, MatShape(a), " ", MatClassName(a), " holds ",
            e.size / size, " values");
    Charge(numel * sizeof(double));
    a.numbers.reserve(numel);
    switch (e.type) {
      case kMiInt8: return AppendAs<int8_t>(e.data, numel, a.numbers);
      case kMiUint8: return AppendAs<uint8_t>(e.data, numel, a.numbers);
      case kMiInt16: return AppendAs<int16_t>(e.data, numel, a.numbers);
      case kMiUint16: return AppendAs<uint16_t>(e.data, numel, a.numbers);
      case kMiInt32: return AppendAs<int32_t>(e.data, numel, a.numbers);
      case kMiUint32: return AppendAs<uint32_t>(e.data, numel, a.numbers);
      case kMiSingle: return AppendAs<float>(e.data, numel, a.numbers);
      case kMiDouble: return AppendAs<double>(e.data, numel, a.numbers);
      case kMiInt64: return AppendAs<int64_t>(e.data, numel, a.numbers);
      default: return AppendAs<uint64_t>(e.data, numel, a.numbers);
    }
  }

  void ParseChars(const Element& e, uint64_t numel, MatArray& a) {
    Charge(numel * sizeof(uint32_t));
    a.chars.reserve(numel);
    if (e.type == kMiUtf8) {
      DecodeUtf8(e, a.chars);
    } else {
      const size_t unit = e.type == kMiUint16 || e.type == kMiInt16 || e.type == kMiUtf16   ? 2
                          : e.type == kMiUint32 || e.type == kMiInt32 || e.type == kMiUtf32 ? 4
                          : e.type == kMiUint8 || e.type == kMiInt8                         ? 1
                                                                                            : 0;
      Require(unit > 0, "character data of type ", e.type);
      for (size_t i = 0; i + unit <= e.size && a.chars.size() < numel; i += unit) {
        uint32_t c = 0;
        for (size_t b = 0; b < unit; ++b) {
          const unsigned char byte = e.data[i + (swap_ ? unit - 1 - b : b)];
          c |= uint32_t{byte} << (8 * b);
        }
        a.chars.push_back(c);
      }
    }
    Require(a.chars.size() == numel, "a ", MatShape(a), " char array holds ", a.chars.size(), " characters");
  }

  static void DecodeUtf8(const Element& e, std::vector<uint32_t>& out) {
    for (size_t i = 0; i < e.size;) {
      const unsigned char b = e.data[i];
      const size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 1;
      uint32_t c = n == 1 ? b : b & (0x7F >> n);
      for (size_t k = 1; k < n && i + k < e.size; ++k) c = (c << 6) | (e.data[i + k] & 0x3F);
      out.push_back(c);
      i += n;
    }
  }

  std::string what_;
  bool swap_;
  size_t budget_, total_budget_;
};

// ---- MAT v7.3 and v4: matio, converted to MatArray.

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

struct MatVarFree {
  void operator()(matvar_t* v) const { Mat_VarFree(v); }
};
using MatVarPtr = std::unique_ptr<matvar_t, MatVarFree>;

size_t Numel(const matvar_t* v) {
  uint64_t n = v->rank > 0 ? 1 : 0;
  for (int i = 0; i < v->rank; ++i)
    if (__builtin_mul_overflow(n, uint64_t{v->dims[i]}, &n)) return SIZE_MAX;
  return n;
}

template <typename T>
void AppendAs(const void* data, size_t n, std::vector<double>& out) {
  const T* p = static_cast<const T*>(data);
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<double>(p[i]));
}

void ConvertNumbers(const matvar_t* v, size_t n, MatArray& a) {
  if (n == 0 || v->data == nullptr) return;
  const size_t size = Mat_SizeOf(v->data_type);
  VPR_CHECK(size > 0 && v->nbytes >= n * size, "'", a.name, "': ", n, " values but ", v->nbytes, " bytes");
  a.numbers.reserve(n);
  switch (v->data_type) {
    case MAT_T_DOUBLE: return AppendAs<double>(v->data, n, a.numbers);
    case MAT_T_SINGLE: return AppendAs<float>(v->data, n, a.numbers);
    case MAT_T_INT8: return AppendAs<int8_t>(v->data, n, a.numbers);
    case MAT_T_UINT8: return AppendAs<uint8_t>(v->data, n, a.numbers);
    case MAT_T_INT16: return AppendAs<int16_t>(v->data, n, a.numbers);
    case MAT_T_UINT16: return AppendAs<uint16_t>(v->data, n, a.numbers);
    case MAT_T_INT32: return AppendAs<int32_t>(v->data, n, a.numbers);
    case MAT_T_UINT32: return AppendAs<uint32_t>(v->data, n, a.numbers);
    case MAT_T_INT64: return AppendAs<int64_t>(v->data, n, a.numbers);
    case MAT_T_UINT64: return AppendAs<uint64_t>(v->data, n, a.numbers);
    default: VPR_THROW("'", a.name, "': unsupported numeric storage type ", static_cast<int>(v->data_type));
  }
}

void ConvertChars(const matvar_t* v, size_t n, MatArray& a) {
  if (n == 0 || v->data == nullptr) return;
  const size_t unit = v->data_type == MAT_T_UINT16 || v->data_type == MAT_T_INT16 || v->data_type == MAT_T_UTF16 ? 2
                      : v->data_type == MAT_T_UINT32 || v->data_type == MAT_T_INT32 || v->data_type == MAT_T_UTF32
                          ? 4
                          : 1;
  VPR_CHECK(v->nbytes >= n * unit, "'", a.name, "': its ", n, " characters need ", n * unit,
            " bytes but the file holds ", v->nbytes,
            " (non-ASCII UTF-8 char matrices are not supported; store the names as a cell array)");
  const auto* bytes = static_cast<const unsigned char*>(v->data);
  a.chars.resize(n);
  for (size_t i = 0; i < n; ++i) std::memcpy(&a.chars[i], bytes + unit * i, unit);  // little-endian host
}

MatArray Convert(const matvar_t* v, int depth) {
  VPR_CHECK(depth <= kMaxDepth, "cells or structs nested deeper than ", kMaxDepth);
  MatArray a;
  a.name = v->name ? v->name : "";
  a.class_type = v->class_type;
  a.is_complex = v->isComplex;
  a.is_logical = v->isLogical;
  a.dims.assign(v->dims, v->dims + std::max(v->rank, 0));
  const size_t n = Numel(v);
  if (IsNumericClass(v->class_type)) {
    ConvertNumbers(v, n, a);
  } else if (v->class_type == MAT_C_CHAR) {
    ConvertChars(v, n, a);
  } else if (v->class_type == MAT_C_CELL) {
    for (size_t i = 0; i < n; ++i) {
      const matvar_t* cell = Mat_VarGetCell(const_cast<matvar_t*>(v), static_cast<int>(i));
      a.elements.push_back(cell ? Convert(cell, depth + 1) : MatArray{});
    }
  } else if (v->class_type == MAT_C_STRUCT) {
    const unsigned fields = Mat_VarGetNumberOfFields(const_cast<matvar_t*>(v));
    char* const* names = Mat_VarGetStructFieldnames(v);
    for (unsigned f = 0; names && f < fields; ++f) a.field_names.push_back(names[f] ? names[f] : "");
    for (size_t e = 0; e < n; ++e)
      for (unsigned f = 0; f < a.field_names.size(); ++f) {
        const matvar_t* field = Mat_VarGetStructFieldByIndex(const_cast<matvar_t*>(v), f, e);
        a.elements.push_back(field ? Convert(field, depth + 1) : MatArray{});
      }
  }
  return a;
}

// What a variable described by matio's ReadInfo will take once read.
uint64_t DeclaredBytes(const matvar_t* v, int depth) {
  if (depth > kMaxDepth) return UINT64_MAX;
  const uint64_t n = Numel(v);
  uint64_t total = 0;
  if (__builtin_mul_overflow(n, uint64_t{sizeof(double)}, &total)) return UINT64_MAX;
  if ((v->class_type == MAT_C_CELL || v->class_type == MAT_C_STRUCT) && v->data != nullptr) {
    const size_t children = v->nbytes / sizeof(matvar_t*);
    auto* const* items = static_cast<matvar_t* const*>(v->data);
    for (size_t i = 0; i < children; ++i)
      if (items[i]) total = std::min<uint64_t>(UINT64_MAX / 2, total + DeclaredBytes(items[i], depth + 1));
  }
  return total;
}

std::vector<MatArray> ReadWithMatio(const std::string& path, std::string* version) {
  RouteMatioLog();
  last_matio_message.clear();
  std::unique_ptr<mat_t, int (*)(mat_t*)> mat(Mat_Open(path.c_str(), MAT_ACC_RDONLY), &Mat_Close);
  VPR_CHECK(mat != nullptr, "'", path, "' is not a MAT file vpr can read (MATLAB v5, v7 or v7.3)",
            last_matio_message.empty() ? "" : ": " + last_matio_message,
            "; save it from MATLAB with save(..., '-v7') or '-v7.3', or with scipy.io.savemat");
  VPR_CHECK(Mat_GetVersion(mat.get()) == MAT_FT_MAT73, "'", path, "' is not a MAT v7.3 file");
  *version = "7.3";
  std::error_code ec;
  const size_t budget = DecompressionBudget(std::filesystem::file_size(path, ec));
  std::vector<std::string> names;
  while (MatVarPtr info{Mat_VarReadNextInfo(mat.get())}) {
    if (info->name == nullptr) continue;
    VPR_CHECK(DeclaredBytes(info.get(), 0) <= budget, "MAT file '", path, "': variable '", info->name,
              "' declares more data than the file can hold (over ", budget >> 20,
              " MiB): it is corrupt or a decompression bomb");
    names.push_back(info->name);
  }
  std::vector<MatArray> variables;
  for (const auto& name : names) {
    last_matio_message.clear();
    MatVarPtr v(Mat_VarRead(mat.get(), name.c_str()));
    VPR_CHECK(v != nullptr, "cannot read variable '", name, "' of MAT file '", path, "'",
              last_matio_message.empty() ? "" : ": " + last_matio_message, "; the file may be truncated");
    variables.push_back(Convert(v.get(), 0));
    variables.back().name = name;
  }
  return variables;
}

// The v5 header: false for other versions; *swap when the file is big-endian.
bool IsMat5(const std::string& bytes, bool* swap) {
  if (bytes.size() < kHeaderBytes) return false;
  const char* endian = bytes.data() + 126;
  if (endian[0] == 'I' && endian[1] == 'M') {
    *swap = false;
  } else if (endian[0] == 'M' && endian[1] == 'I') {
    *swap = true;
  } else {
    return false;
  }
  const auto* v = reinterpret_cast<const unsigned char*>(bytes.data() + 124);
  const unsigned version = *swap ? (v[0] << 8 | v[1]) : (v[1] << 8 | v[0]);
  return version == 0x0100;
}

// MAT v7.3 is HDF5 behind a 512-byte MATLAB header whose version field is 0x0200
// (matio reads anything else as v5, then v4).
bool IsMat73(const std::string& bytes) {
  if (bytes.size() < 520 || bytes.compare(512, 8, "\x89HDF\r\n\x1a\n", 8) != 0) return false;
  const auto* v = reinterpret_cast<const unsigned char*>(bytes.data() + 124);
  return (bytes.compare(126, 2, "IM") == 0 && v[0] == 0x00 && v[1] == 0x02) ||
         (bytes.compare(126, 2, "MI") == 0 && v[0] == 0x02 && v[1] == 0x00);
}

std::vector<MatArray> ParseMat5Bytes(const std::string& bytes, bool swap, const std::string& what) {
  Mat5Parser parser(what, swap, DecompressionBudget(bytes.size()));
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  return parser.ParseFile(b + kHeaderBytes, b + bytes.size());
}

}  // namespace

MatFile::MatFile(const std::string& path) : path_(path) {
  VPR_CHECK(std::filesystem::is_regular_file(path), "MAT file '", path, "' does not exist or is not a file");
  const std::string bytes = ReadFileBytes(path);
  bool swap = false;
  if (IsMat5(bytes, &swap)) {
    version_ = "5";
    variables_ = ParseMat5Bytes(bytes, swap, "MAT file '" + path + "'");
  } else {
    // Only v7.3 goes to matio: its v4 reader allocated gigabytes for a 59-byte file.
    VPR_CHECK(IsMat73(bytes), "'", path, "' is not a MAT file vpr can read (MATLAB v5, v7 or v7.3); save it from "
              "MATLAB with save(..., '-v7') or '-v7.3', or with scipy.io.savemat");
    variables_ = ReadWithMatio(path, &version_);
  }
}

MatFile MatFile::FromBytes(const std::string& bytes, const std::string& what) {
  bool swap = false;
  VPR_CHECK(IsMat5(bytes, &swap), what, " is not a MAT v5 file");
  MatFile file;
  file.path_ = what;
  file.version_ = "5";
  file.variables_ = ParseMat5Bytes(bytes, swap, what);
  return file;
}

std::vector<std::string> MatFile::Variables() const {
  std::vector<std::string> names;
  for (const auto& v : variables_) names.push_back(v.name);
  return names;
}

const MatArray& MatFile::Read(const std::string& name) const {
  for (const auto& v : variables_)
    if (v.name == name) return v;
  std::string found;
  for (const auto& v : variables_) found += (found.empty() ? "" : ", ") + v.name;
  VPR_THROW("MAT file '", path_, "' has no variable '", name, "'; its variables are: ", found.empty() ? "(none)" : found);
}

std::string MatShape(const MatArray& v) {
  std::string out;
  for (size_t i = 0; i < v.dims.size(); ++i) out += (i ? " x " : "") + std::to_string(v.dims[i]);
  return out.empty() ? "(no dimensions)" : out;
}

std::string MatClassName(const MatArray& v) {
  static const char* kNames[] = {"empty",  "cell",   "struct", "object", "char",     "sparse",
                                 "double", "single", "int8",   "uint8",  "int16",    "uint16",
                                 "int32",  "uint32", "int64",  "uint64", "function", "opaque"};
  int c = static_cast<int>(v.class_type);
  if (v.is_logical) return "logical";
  return c >= 0 && c < static_cast<int>(std::size(kNames)) ? kNames[c] : "unknown";
}

size_t MatNumel(const MatArray& v) {
  uint64_t n = v.dims.empty() ? 0 : 1;
  for (size_t d : v.dims)
    if (__builtin_mul_overflow(n, uint64_t{d}, &n)) return SIZE_MAX;
  return n;
}

const MatArray* MatField(const MatArray& s, const std::string& name, size_t element) {
  if (s.class_type != MAT_C_STRUCT) return nullptr;
  const size_t fields = s.field_names.size();
  for (size_t f = 0; f < fields; ++f) {
    const size_t at = element * fields + f;
    if (s.field_names[f] == name && at < s.elements.size()) return &s.elements[at];
  }
  return nullptr;
}

const MatArray* MatCell(const MatArray& c, size_t i) {
  return c.class_type == MAT_C_CELL && i < c.elements.size() ? &c.elements[i] : nullptr;
}

const std::vector<double>& MatNumbers(const MatArray& v, const std::string& what) {
  VPR_CHECK(IsNumericClass(v.class_type) && !v.is_complex, what, " must be a real numeric array, found ",
            v.is_complex ? "complex " : "", MatClassName(v), " ", MatShape(v));
  return v.numbers;
}

double MatScalar(const MatArray& v, const std::string& what) {
  const std::vector<double>& values = MatNumbers(v, what);
  VPR_CHECK(values.size() == 1, what, " must be a single number, found ", MatClassName(v), " ", MatShape(v));
  return values[0];
}

std::vector<std::string> MatStrings(const MatArray& v, const std::string& what) {
  std::vector<std::string> out;
  if (v.class_type == MAT_C_CELL) {
    const size_t n = MatNumel(v);
    for (size_t i = 0; i < n; ++i) {
      const MatArray* cell = MatCell(v, i);
      VPR_CHECK(cell != nullptr, what, ": cell ", i + 1, " of ", n, " is missing");
      out.push_back(MatString(*cell, what + " cell " + std::to_string(i + 1)));
    }
    return out;
  }
  VPR_CHECK(v.class_type == MAT_C_CHAR, what,
            " must be a cell array of names or a char matrix with one name per row, found ", MatClassName(v), " ",
            MatShape(v));
  // An R x 0 char matrix holds no characters: no names (R may be any number a file claims).
  const size_t rows = v.dims.empty() || v.chars.empty() ? 0 : v.dims[0];
  const size_t cols = rows ? v.chars.size() / rows : 0;
  for (size_t r = 0; r < rows; ++r) out.push_back(CharRow(v.chars, rows, cols, r));
  return out;
}

std::string MatString(const MatArray& v, const std::string& what) {
  VPR_CHECK(v.class_type == MAT_C_CHAR, what, " must be a char array (text), found ", MatClassName(v), " ",
            MatShape(v));
  const bool one_line = v.dims.empty() || (v.dims.size() == 2 && (v.dims[0] <= 1 || v.dims[1] <= 1));
  VPR_CHECK(one_line || v.chars.empty(), what, " must be one line of text, found a char matrix ", MatShape(v));
  return CharRow(v.chars, 1, v.chars.size(), 0);
}

std::vector<std::string> MatFieldNames(const MatArray& v) { return v.field_names; }

}  // namespace vpr
