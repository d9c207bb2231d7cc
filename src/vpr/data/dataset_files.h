// Helpers shared by the readers of ground-truth files whose image names are relative
// to a root folder.
#pragma once

#include <string>
#include <vector>

namespace vpr {

// The folder the file's image names are relative to: `root` when given, else the
// file's own folder; absolute and normalised.
std::string NamesRoot(const std::string& file, const std::string& root);

// root / name for each name, normalised ("./a/b.jpg" -> "root/a/b.jpg").
std::vector<std::string> UnderRoot(const std::string& root, const std::vector<std::string>& names);

// The file's lines without trailing '\r', blank lines skipped. Throws naming `role` and
// the path when it cannot be read.
std::vector<std::string> ReadNameList(const std::string& path, const std::string& role);

}  // namespace vpr
