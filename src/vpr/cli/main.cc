// vpr: visual place recognition with NetVLAD. One binary, subcommands from one table.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "vpr/cli/commands.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace {

void PrintHelp() {
  std::cout << "vpr " << VPR_VERSION << " - visual place recognition with NetVLAD\n\n"
            << "Usage: vpr <command> [options]   (vpr <command> --help for its options)\n\nCommands:\n";
  for (const auto& c : vpr::Commands()) std::cout << "  " << c.name << std::string(12 - c.name.size(), ' ') << c.summary << "\n";
  std::cout << "  help        this list\n";
}

// OpenMP threads spin after each parallel region, for 300,000 iterations by libgomp's
// default: when another process (or our own decoding) holds one of the cores, the team
// waits for the descheduled thread while the others burn their cores, and throughput
// drops 5x (measured on 2 cores). 3,000 iterations cost 3-8% on an idle machine and keep
// 4x more on a busy one (README, "Threads"). libgomp reads the setting once, when it
// loads, so set it and start again; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
// The restart costs ~0.2 s, so commands that run no parallel work skip it.
void UseShortOpenMpSpinning(int argc, char** argv) {
  if (std::getenv("GOMP_SPINCOUNT") || std::getenv("OMP_WAIT_POLICY") || argc < 2) return;
  for (const char* light : {"help", "--help", "-h", "version", "--version", "doctor"})
    if (!std::strcmp(argv[1], light)) return;
  setenv("GOMP_SPINCOUNT", "3000", 1);
  execv("/proc/self/exe", argv);  // returns only on failure: run on with the default then
}

}  // namespace

int main(int argc, char** argv) {
  UseShortOpenMpSpinning(argc, argv);
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    PrintHelp();
    return argc < 2 ? 1 : 0;
  }
  std::string name = argv[1];
  if (name == "--version") name = "version";
  for (const auto& command : vpr::Commands()) {
    if (command.name != name) continue;
    std::string program = "vpr " + name;
    std::vector<char*> args(argv + 1, argv + argc);
    args[0] = program.data();
    try {
      return command.run(static_cast<int>(args.size()), args.data());
    } catch (const std::exception& e) {
      vpr::Log().error("{}", e.what());
      return 2;
    }
  }
  std::cerr << "vpr: unknown command '" << name << "'\n\n";
  PrintHelp();
  return 1;
}
