#include "vpr/util/npy.h"

#include <cstring>
#include <regex>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"

namespace vpr {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

std::string Header(int64_t rows, int64_t cols) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) +
                     ", " + std::to_string(cols) + "), }";
  // Magic (6) + version (2) + header length (2) + dict + '\n', padded to 64 bytes.
  size_t total = 10 + dict.size() + 1;
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

void WriteNpy(const std::string& path, const float* data, int64_t rows, int64_t cols) {
  std::string header = Header(rows, cols);
  WriteFileAtomic(path, [&](std::ostream& out) {
    out.write(header.data(), header.size());
    out.write(reinterpret_cast<const char*>(data), rows * cols * sizeof(float));
  });
}

NpyMatrix ReadNpy(const std::string& path) {
  std::string bytes = ReadFileBytes(path);
  VPR_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, kMagic, 6) == 0, "'", path,
            "' is not a .npy file (bad magic)");
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else {
    VPR_CHECK(bytes.size() >= 12, "'", path, "': truncated .npy header");
    uint32_t len32;
    std::memcpy(&len32, bytes.data() + 8, 4);
    header_len = len32;
    offset = 12;
  }
  VPR_CHECK(offset + header_len <= bytes.size(), "'", path, "': truncated .npy header");
  std::string header = bytes.substr(offset, header_len);
  std::smatch m;
  VPR_CHECK(std::regex_search(header, m, std::regex("'descr':\\s*'([<|=]f[48])'")), "'", path,
            "': only little-endian float32/float64 arrays are supported, header is ", header);
  bool f64 = m[1].str().back() == '8';
  VPR_CHECK(header.find("'fortran_order': False") != std::string::npos, "'", path,
            "': Fortran-order arrays are not supported; save with np.ascontiguousarray");
  VPR_CHECK(std::regex_search(header, m, std::regex(R"('shape':\s*\(([\d,\s]*)\))")), "'", path,
            "': no shape in the header ", header);
  NpyMatrix out;
  std::string dims = m[1].str();
  const std::regex number(R"(\d+)");  // named: sregex_iterator must not keep a temporary
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it)
    out.shape.push_back(std::stoll(it->str()));
  VPR_CHECK(!out.shape.empty(), "'", path, "': 0-d arrays are not supported");
  out.rows = out.shape.size() == 1 ? 1 : out.shape[0];
  out.cols = 1;
  for (size_t i = out.shape.size() == 1 ? 0 : 1; i < out.shape.size(); ++i) out.cols *= out.shape[i];
  size_t n = static_cast<size_t>(out.rows * out.cols);
  size_t data_start = offset + header_len;
  size_t need = n * (f64 ? 8 : 4);
  VPR_CHECK(bytes.size() - data_start >= need, "'", path, "': file is truncated: expected ", need,
            " bytes of data, found ", bytes.size() - data_start);
  out.data.resize(n);
  if (f64) {
    for (size_t i = 0; i < n; ++i) {
      double v;
      std::memcpy(&v, bytes.data() + data_start + 8 * i, 8);
      out.data[i] = static_cast<float>(v);
    }
  } else {
    std::memcpy(out.data.data(), bytes.data() + data_start, need);
  }
  return out;
}

}  // namespace vpr
