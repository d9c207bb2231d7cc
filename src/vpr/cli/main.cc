// vpr: visual place recognition with NetVLAD. One binary, subcommands from one table.
#include <torch/torch.h>

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
  std::cout << "  help        this list\n  version     version and library versions\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    PrintHelp();
    return argc < 2 ? 1 : 0;
  }
  std::string name = argv[1];
  if (name == "version" || name == "--version") {
    std::cout << "vpr " << VPR_VERSION << " (LibTorch " << TORCH_VERSION << ", CUDA "
              << (torch::cuda::is_available() ? "available" : "not available") << ")\n";
    return 0;
  }
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
