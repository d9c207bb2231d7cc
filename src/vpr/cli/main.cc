// vpr: visual place recognition with NetVLAD. One binary, subcommands from one table.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "vpr/cli/commands.h"
#include "vpr/cli/parse_flags.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace {

const vpr::Command* FindCommand(const std::string& name) {
  for (const auto& command : vpr::Commands())
    if (command.name == name) return &command;
  return nullptr;
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names = {"help"};
  for (const auto& command : vpr::Commands()) names.push_back(command.name);
  return names;
}

void PrintHelp() {
  std::cout << "vpr " << VPR_VERSION << " - visual place recognition with NetVLAD\n\n"
            << "Usage: vpr <command> [options]   (vpr <command> --help for its options)\n\nCommands:\n";
  for (const auto& c : vpr::Commands()) std::cout << "  " << c.name << std::string(12 - c.name.size(), ' ') << c.summary << "\n";
  std::cout << "  help        this list; help CMD: the options of CMD\n\n"
            << "Exit codes: 0 done, 1 the run failed, 2 the command line is wrong (nothing was run).\n";
}

// OpenMP threads spin after each parallel region, for 300,000 iterations by libgomp's
// default: when another process (or our own decoding) holds one of the cores, the team
// waits for the descheduled thread while the others burn their cores, and throughput
// drops 5x (measured on 2 cores). 3,000 iterations cost 3-8% on an idle machine and keep
// 4x more on a busy one (README, "Threads"). libgomp reads the setting once, when it
// loads, so set it and start again; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
// The restart costs ~0.2 s, so commands that run no parallel work skip it.
int RunHelp(int argc, char** argv);

// Runs argv[1] with the rest; the exit codes are vpr::ExitCode's.
int Run(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    PrintHelp();
    return argc < 2 ? vpr::kExitUsage : vpr::kExitOk;
  }
  std::string name = argv[1];
  if (name == "help") return RunHelp(argc, argv);
  if (name == "--version") name = "version";
  const vpr::Command* command = FindCommand(name);
  if (!command) {
    std::string closest = vpr::ClosestName(name, CommandNames());
    std::cerr << "vpr: unknown command '" << name << "'" << (closest.empty() ? "" : "; did you mean '" + closest + "'?")
              << "\nRun 'vpr help' for the list of commands.\n";
    return vpr::kExitUsage;
  }
  std::string program = "vpr " + name;
  std::vector<char*> args(argv + 1, argv + argc);
  args[0] = program.data();
  try {
    return command->run(static_cast<int>(args.size()), args.data());
  } catch (const vpr::UsageError& e) {
    std::cerr << program << ": " << e.what() << "\nRun '" << program << " --help' for the options.\n";
    return vpr::kExitUsage;
  } catch (const std::exception& e) {
    vpr::Log().error("{}", e.what());
    return vpr::kExitFailure;
  }
}

void UseShortOpenMpSpinning(int argc, char** argv) {
  if (std::getenv("GOMP_SPINCOUNT") || std::getenv("OMP_WAIT_POLICY") || argc < 2) return;
  for (const char* light : {"help", "--help", "-h", "version", "--version", "doctor"})
    if (!std::strcmp(argv[1], light)) return;
  setenv("GOMP_SPINCOUNT", "3000", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: run on with the default then
}

// `vpr help CMD` is `vpr CMD --help`.
int RunHelp(int argc, char** argv) {
  if (argc < 3) {
    PrintHelp();
    return vpr::kExitOk;
  }
  std::vector<char*> args = {argv[0], argv[2], const_cast<char*>("--help")};
  return Run(static_cast<int>(args.size()), args.data());
}

}  // namespace

int main(int argc, char** argv) {
  UseShortOpenMpSpinning(argc, argv);
  return Run(argc, argv);
}
