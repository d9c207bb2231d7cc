// Precondition checks that throw (never assert: input errors must survive release builds).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace vpr {

// The one exception type of the project; its message says what was wrong and what to do.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A command line or an options struct that cannot work (an unknown flag, a value out of
// its range, two options that exclude each other): the `vpr` binary exits 2 for these and
// 1 for every other Error, so scripts can tell a wrong call from a failed run.
class UsageError : public Error {
 public:
  using Error::Error;
};

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
