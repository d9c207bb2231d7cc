#include "vpr/util/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "vpr/util/check.h"

namespace vpr {

void WriteFileAtomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  namespace fs = std::filesystem;
  fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    VPR_CHECK(out, "cannot write '", tmp, "': ", std::strerror(errno),
              " (check that the folder exists and is writable)");
    try {
      write(out);
    } catch (...) {
      out.close();
      fs::remove(tmp);
      throw;
    }
    out.flush();
    if (!out) {
      fs::remove(tmp);
      VPR_THROW("writing '", path, "' failed (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp);
    VPR_THROW("cannot rename '", tmp, "' to '", path, "': ", ec.message());
  }
}

void WriteFileAtomic(const std::string& path, const std::string& bytes) {
  WriteFileAtomic(path, [&](std::ostream& out) { out.write(bytes.data(), bytes.size()); });
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  VPR_CHECK(in, "cannot open '", path, "': ", std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace vpr
