// Files we write appear whole or not at all: written to a temporary beside the
// target, flushed, then renamed over it.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace vpr {

// Calls write(stream) on a temporary file next to `path`, then renames it to `path`.
// Creates missing parent folders. Throws vpr::Error naming the path on failure.
void WriteFileAtomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// Convenience for a whole buffer.
void WriteFileAtomic(const std::string& path, const std::string& bytes);

// Reads a whole regular file; throws vpr::Error naming the path when it cannot (a
// FIFO or a device such as /dev/zero is refused: it could be endless).
std::string ReadFileBytes(const std::string& path);

// The temporary beside `path` this process writes before renaming: "<path>.tmp.<pid>".
std::string TemporaryFor(const std::string& path);

// Throws when `path` exists and is not a regular file (a device, a FIFO, a folder):
// renaming a new file onto it would replace the node itself (/dev/full as root).
void CheckReplaceable(const std::string& path);

// Fails before any work when `path` could not be written: creates its folder, then
// writes and removes a probe file there. `flag` (e.g. "--out") starts the message.
void CheckWritable(const std::string& path, const std::string& flag);

// Removes "<path>.tmp.<pid>" files (and folders) left by processes that no longer run.
void RemoveStaleTemporaries(const std::string& path);

// Files that belong together (descriptors and their names, an index and its sidecar),
// made visible together: each is written to a temporary; Commit() first removes every
// old target, then renames the new ones in, in the order added (data first, the file
// that describes it last). A kill or a full disk leaves the old set, nothing, or a
// prefix of the new set: never old and new files mixed. Uncommitted temporaries are
// removed by the destructor.
class FileSet {
 public:
  FileSet() = default;
  ~FileSet();
  FileSet(const FileSet&) = delete;
  FileSet& operator=(const FileSet&) = delete;
  // The temporary to write for `path` (created folders included).
  std::string Stage(const std::string& path);
  // A temporary already written (e.g. by NpyWriter) that becomes `path` on Commit().
  void Adopt(const std::string& temporary, const std::string& path);
  void Write(const std::string& path, const std::string& bytes);
  void Commit();

 private:
  std::vector<std::pair<std::string, std::string>> files_;  // temporary, target
  bool committed_ = false;
};

// A folder replaced whole (an eval's outputs): files are written under path(), a
// temporary sibling, and Commit() swaps it with the old folder in one
// renameat2(RENAME_EXCHANGE) before removing the old content. Readers see the old
// folder or the new one, never files of two runs.
class StagedDir {
 public:
  explicit StagedDir(std::string final_path);
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;
  const std::string& path() const { return staging_; }
  void Commit();

 private:
  std::string final_, staging_;
  bool committed_ = false;
};

}  // namespace vpr
