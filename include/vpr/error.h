// The exceptions of vpr. Every error message says what was wrong and what to do.
#pragma once

#include <stdexcept>

namespace vpr {

// The one exception type of the library (a missing or corrupt file, a wrong shape, ...).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Options or a command line that cannot work (an unknown flag, a value out of its range,
// options that exclude each other): the `vpr` binary exits 2 for these and 1 for every
// other Error, so scripts can tell a wrong call from a failed run.
class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace vpr
