#include "vpr/util/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "vpr/util/check.h"

namespace vpr {
namespace fs = std::filesystem;

std::string TemporaryFor(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

void CheckReplaceable(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  VPR_CHECK(!fs::exists(st) || fs::is_regular_file(st), "'", path, "' exists and is not a regular file (",
            fs::is_directory(st) ? "a folder" : "a device, FIFO or socket",
            "); vpr writes a new file and renames it into place, which would replace it: give a file path");
}

void CheckWritable(const std::string& path, const std::string& flag) {
  CheckReplaceable(path);
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  VPR_CHECK(!ec, flag, " '", path, "': cannot create the folder '", dir.string(), "': ", ec.message());
  const std::string probe = TemporaryFor(path) + ".probe";
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  VPR_CHECK(fd >= 0, flag, " '", path, "' cannot be written: ", std::strerror(errno),
            " (check the folder's permissions and free space) - checked before any work is done");
  ::close(fd);
  ::unlink(probe.c_str());
}

void RemoveStaleTemporaries(const std::string& path) {
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string prefix = target.filename().string() + ".tmp.";
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size(), name.find('.', prefix.size()) - prefix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;  // still running (or not ours)
    std::error_code ignored;
    fs::remove_all(it->path(), ignored);
  }
}

void WriteFileAtomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  fs::path target(path);
  CheckReplaceable(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  RemoveStaleTemporaries(path);
  std::string tmp = TemporaryFor(path);
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
      out.close();
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
  std::error_code ec;
  VPR_CHECK(fs::is_regular_file(path, ec), "cannot read '", path, "': ",
            fs::exists(path, ec) ? "it is not a regular file (a folder, FIFO or device)" : "no such file");
  std::ifstream in(path, std::ios::binary);
  VPR_CHECK(in, "cannot open '", path, "': ", std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// ---- FileSet

FileSet::~FileSet() {
  if (committed_) return;
  for (const auto& [tmp, target] : files_) {
    std::error_code ec;
    fs::remove(tmp, ec);
  }
}

std::string FileSet::Stage(const std::string& path) {
  CheckReplaceable(path);
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  RemoveStaleTemporaries(path);
  files_.emplace_back(TemporaryFor(path), path);
  return files_.back().first;
}

void FileSet::Adopt(const std::string& temporary, const std::string& path) {
  CheckReplaceable(path);
  files_.emplace_back(temporary, path);
}

void FileSet::Write(const std::string& path, const std::string& bytes) {
  const std::string tmp = Stage(path);
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  VPR_CHECK(out, "cannot write '", tmp, "': ", std::strerror(errno), " (check that the folder is writable)");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  VPR_CHECK(out, "writing '", path, "' failed (disk full?)");
}

void FileSet::Commit() {
  VPR_CHECK(!committed_, "internal: FileSet committed twice");
  for (const auto& [tmp, target] : files_) {
    std::error_code ec;
    fs::remove(target, ec);
    VPR_CHECK(!ec, "cannot replace '", target, "': ", ec.message());
  }
  for (const auto& [tmp, target] : files_) {
    std::error_code ec;
    fs::rename(tmp, target, ec);
    VPR_CHECK(!ec, "cannot rename '", tmp, "' to '", target, "': ", ec.message());
  }
  committed_ = true;
}

// ---- StagedDir

StagedDir::StagedDir(std::string final_path) : final_(std::move(final_path)) {
  while (final_.size() > 1 && final_.back() == '/') final_.pop_back();
  std::error_code ec;
  const fs::file_status st = fs::status(final_, ec);
  VPR_CHECK(!fs::exists(st) || fs::is_directory(st), "'", final_, "' exists and is not a folder: give a folder path");
  const fs::path parent = fs::path(final_).has_parent_path() ? fs::path(final_).parent_path() : fs::path(".");
  fs::create_directories(parent, ec);
  VPR_CHECK(!ec, "cannot create the folder '", parent.string(), "': ", ec.message());
  RemoveStaleTemporaries(final_);
  staging_ = TemporaryFor(final_);
  fs::remove_all(staging_, ec);
  fs::create_directories(staging_, ec);
  VPR_CHECK(!ec, "cannot create '", staging_, "': ", ec.message(), " (check that the folder is writable)");
}

StagedDir::~StagedDir() {
  std::error_code ec;
  if (!committed_) fs::remove_all(staging_, ec);
}

void StagedDir::Commit() {
  VPR_CHECK(!committed_, "internal: StagedDir committed twice");
  std::error_code ec;
  if (fs::exists(final_, ec)) {
    // One atomic step: the new folder takes the old one's name, the old one the temporary's.
    VPR_CHECK(::renameat2(AT_FDCWD, staging_.c_str(), AT_FDCWD, final_.c_str(), RENAME_EXCHANGE) == 0,
              "cannot swap '", staging_, "' with '", final_, "': ", std::strerror(errno));
    committed_ = true;
    fs::remove_all(staging_, ec);  // the old content
    return;
  }
  fs::rename(staging_, final_, ec);
  VPR_CHECK(!ec, "cannot rename '", staging_, "' to '", final_, "': ", ec.message());
  committed_ = true;
}

}  // namespace vpr
