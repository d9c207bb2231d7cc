#include "vpr/util/child_process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>

#include "vpr/util/check.h"

namespace vpr {
namespace {

constexpr size_t kMaxMessageBytes = 4096;

[[noreturn]] void ReportAndExit(int fd, const char* message) {
  const size_t length = strnlen(message, kMaxMessageBytes);
  ssize_t written = 0;
  while (written < static_cast<ssize_t>(length)) {
    const ssize_t n = write(fd, message + written, length - written);
    if (n <= 0) break;
    written += n;
  }
  _exit(1);
}

std::string ReadAll(int fd) {
  std::string text;
  char buffer[512];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (text.size() < kMaxMessageBytes) text.append(buffer, static_cast<size_t>(n));
  }
  return text;
}

}  // namespace

ChildOutcome RunInChildProcess(const std::function<void()>& work) {
  int fds[2];
  VPR_CHECK(pipe(fds) == 0, "cannot create a pipe for a child process: ", std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    VPR_THROW("cannot fork a child process: ", std::strerror(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    // A crash ends the child by its signal, and nothing the parent installed (a
    // sanitizer's or libFuzzer's reporter) runs for it.
    for (int signal : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(signal, SIG_DFL);
    try {
      work();
    } catch (const std::exception& e) {
      ReportAndExit(fds[1], e.what());
    } catch (...) {
      ReportAndExit(fds[1], "an exception that is not a std::exception");
    }
    _exit(0);
  }
  close(fds[1]);
  const std::string message = ReadAll(fds[0]);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    VPR_CHECK(errno == EINTR, "waiting for a child process failed: ", std::strerror(errno));
  }
  ChildOutcome outcome;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    outcome.ok = true;
  } else if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    outcome.failure = "it crashed (signal " + std::string(name ? name : std::to_string(WTERMSIG(status))) + ": " +
                      strsignal(WTERMSIG(status)) + ")";
  } else if (!message.empty()) {
    outcome.failure = message;
  } else {
    outcome.failure = "it ended with exit status " + std::to_string(WEXITSTATUS(status));
  }
  return outcome;
}

}  // namespace vpr
