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

#define VPR_THROW(...) throw ::vpr::Error(::vpr::internal::Concat(__VA_ARGS__))
