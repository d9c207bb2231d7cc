// Command-line conventions every `vpr` subcommand shares: exit codes, --log-level and
// --quiet, the closest flag for a mistyped one, and pytorch-NetVlad's flag names.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace vpr {

// The process exit codes (README, "Exit codes").
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,  // the run failed (a file is missing or corrupt, a dataset is unusable, ...)
  kExitUsage = 2,    // the command line is wrong: nothing was run
};

// Adds --log-level and --quiet to `app`, rewrites pytorch-NetVlad's flag names
// (--num_clusters, --arch, --nEpochs, ...) and snake_case / camelCase spellings of the
// command's own flags to those flags (logging a note), then parses. Returns false when
// --help was printed (the command should return kExitOk). Throws vpr::UsageError on a
// bad command line, naming the closest known flag for an unknown one.
bool ParseFlags(CLI::App& app, int argc, char** argv);
// The same for arguments without the program name; foreign names in `args` are rewritten.
bool ParseFlags(CLI::App& app, std::vector<std::string>& args);

// The candidate closest to `typed` by edit distance, or "" when none is close enough to
// be what was meant (at most a third of the letters differ, or `typed` is a prefix).
std::string ClosestName(const std::string& typed, const std::vector<std::string>& candidates);

}  // namespace vpr

// In a command's Run function: parse, and return 0 when --help was printed.
#define VPR_PARSE_FLAGS(app, argc, argv) \
  if (!::vpr::ParseFlags(app, argc, argv)) return ::vpr::kExitOk
