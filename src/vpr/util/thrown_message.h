// The message of the vpr::Error a call throws: for tests that check what an error says.
#pragma once

#include <functional>
#include <string>

#include "vpr/util/check.h"

namespace vpr {

// What f() throws as vpr::Error, or "" when it returns normally (other exceptions pass).
inline std::string ThrownMessage(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace vpr
