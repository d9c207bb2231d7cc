// Precondition checks that throw (never assert: input errors must survive release builds).
#pragma once

#include <sstream>
#include <string>

#include "vpr/error.h"

namespace vpr {

namespace internal {
template <typename... Args>
std::string Concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}
}  // namespace internal

}  // namespace vpr

// VPR_CHECK(cond, "message parts", ...) throws vpr::Error with the parts joined.
#define VPR_CHECK(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond)) throw ::vpr::Error(::vpr::internal::Concat(__VA_ARGS__));     \
  } while (0)

// The same for options: throws vpr::UsageError (used in the options structs' Check()).
#define VPR_CHECK_USAGE(cond, ...)                                             \
  do {                                                                         \
    if (!(cond)) throw ::vpr::UsageError(::vpr::internal::Concat(__VA_ARGS__)); \
  } while (0)

#define VPR_THROW(...) throw ::vpr::Error(::vpr::internal::Concat(__VA_ARGS__))
