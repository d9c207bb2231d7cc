#include "vpr/util/fingerprint.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include <fmt/format.h>

#include "vpr/util/check.h"

namespace vpr {
namespace {
constexpr uint64_t kPrime = 1099511628211ull;
}  // namespace

Fingerprint& Fingerprint::Add(const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    a_ = (a_ ^ bytes[i]) * kPrime;
    b_ = (b_ ^ bytes[i]) * kPrime;
  }
  // Mix the lanes so that they do not stay two copies of one hash with an offset.
  b_ ^= a_ >> 29;
  return *this;
}

Fingerprint& Fingerprint::Add(const std::string& text) {
  Add(static_cast<int64_t>(text.size()));
  return Add(text.data(), text.size());
}

Fingerprint& Fingerprint::Add(int64_t value) { return Add(&value, sizeof value); }

Fingerprint& Fingerprint::Add(double value) { return Add(&value, sizeof value); }

std::string Fingerprint::Hex() const { return fmt::format("{:016x}{:016x}", a_, b_); }

std::string FingerprintFiles(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  Fingerprint f;
  f.Add(static_cast<int64_t>(paths.size()));
  for (const auto& p : paths) {
    f.Add(p);
    std::error_code ec;
    auto size = fs::file_size(p, ec);
    if (ec) {
      f.Add(std::string("<missing>"));
      continue;
    }
    auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
    f.Add(static_cast<int64_t>(size)).Add(static_cast<int64_t>(mtime));
  }
  return f.Hex();
}

std::string FingerprintFileContent(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  VPR_CHECK(in, "cannot read '", path, "' to check its fingerprint");
  Fingerprint f;
  std::vector<char> chunk(size_t{1} << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (in.gcount() > 0) f.Add(chunk.data(), static_cast<size_t>(in.gcount()));
  }
  return f.Hex();
}

}  // namespace vpr
