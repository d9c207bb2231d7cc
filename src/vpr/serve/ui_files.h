// The web viewer's files, built into the binary (cmake/embed_files.cmake).
#pragma once

#include <string>
#include <string_view>

namespace vpr {

// The bytes of ui/<name>, or nullptr when there is no such file.
const std::string_view* EmbeddedUiFile(const std::string& name);
// "text/html; charset=utf-8", "text/javascript; charset=utf-8", ... by extension.
std::string UiContentType(const std::string& name);

}  // namespace vpr
