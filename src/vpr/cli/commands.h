// The `vpr` subcommands, registered in one table.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace vpr {

struct Command {
  std::string name;
  std::string summary;
  // Parses argv (argv[0] is "vpr <name>") and runs; returns the process exit code.
  std::function<int(int argc, char** argv)> run;
};

const std::vector<Command>& Commands();

int RunExtractCommand(int argc, char** argv);
int RunDemoCommand(int argc, char** argv);
int RunClusterCommand(int argc, char** argv);
int RunEvalCommand(int argc, char** argv);
int RunDoctorCommand(int argc, char** argv);
int RunTrainCommand(int argc, char** argv);
int RunIndexCommand(int argc, char** argv);
int RunSearchCommand(int argc, char** argv);
int RunPcaCommand(int argc, char** argv);
int RunVersionCommand(int argc, char** argv);
int RunLoopsCommand(int argc, char** argv);
int RunServeCommand(int argc, char** argv);

}  // namespace vpr
