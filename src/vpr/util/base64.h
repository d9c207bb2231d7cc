// Base64 (RFC 4648, padded) of bytes: the data URIs of the HTML reports.
#pragma once

#include <string>

namespace vpr {

std::string Base64(const std::string& bytes);

}  // namespace vpr
