#include "vpr/util/versioned_file.h"

#include <cstring>

#include "vpr/util/check.h"

namespace vpr {

std::string VersionedPrefix(const char (&magic)[8], uint32_t version, const std::string& header) {
  std::string bytes(magic, sizeof(magic));
  const uint64_t header_size = header.size();
  bytes.append(reinterpret_cast<const char*>(&version), sizeof(version));
  bytes.append(reinterpret_cast<const char*>(&header_size), sizeof(header_size));
  return bytes + header;
}

std::string ReadVersionedHeader(const std::string& bytes, const char (&magic)[8], uint32_t expected,
                                const std::string& what, const std::string& kind, const std::string& writer,
                                size_t* body_offset) {
  constexpr size_t kPrefixBytes = 8 + sizeof(uint32_t) + sizeof(uint64_t);
  VPR_CHECK(bytes.size() >= kPrefixBytes && std::memcmp(bytes.data(), magic, 8) == 0, what, " is not a ", kind,
            " (written by ", writer, ")");
  uint32_t version = 0;
  uint64_t header_size = 0;
  std::memcpy(&version, bytes.data() + 8, sizeof(version));
  std::memcpy(&header_size, bytes.data() + 8 + sizeof(version), sizeof(header_size));
  VPR_CHECK(version == expected, what, " is a version ", version, " ", kind, "; this vpr reads version ", expected);
  VPR_CHECK(header_size <= bytes.size() - kPrefixBytes, what, " is cut short (its header claims ", header_size,
            " bytes)");
  *body_offset = kPrefixBytes + header_size;
  return bytes.substr(kPrefixBytes, header_size);
}

}  // namespace vpr
