// Turning the user's image arguments into an ordered list of files.
#pragma once

#include <string>
#include <vector>

namespace vpr {

// True for the extensions treated as images when scanning folders (case-insensitive).
bool HasImageExtension(const std::string& path);

// Each input is a folder (images found recursively, sorted by path), an image file,
// or a text file with one path per line (blank lines and '#' comments skipped; relative
// paths are relative to the list's folder). Order is kept across inputs.
// Throws vpr::Error naming the input when it does not exist or yields no images.
std::vector<std::string> CollectImages(const std::vector<std::string>& inputs);

}  // namespace vpr
