// Runs a parser we cannot fix (a third-party reader of untrusted files) where its crash
// cannot take the process down with it.
#pragma once

#include <functional>
#include <string>

namespace vpr {

// How `work` ended in a forked child process: `ok` when it returned; otherwise `failure`
// says why: the message of what it threw, or the signal that killed it (SIGFPE, SIGSEGV,
// SIGABRT...). The child shares nothing with the caller after the fork: `work` may only
// report through what it throws. Meant for short single-threaded work (no OpenMP).
struct ChildOutcome {
  bool ok = false;
  std::string failure;
};
ChildOutcome RunInChildProcess(const std::function<void()>& work);

}  // namespace vpr
