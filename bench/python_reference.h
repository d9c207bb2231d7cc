// Runs the Python side of a benchmark (a script under bench/ that prints one JSON object)
// and returns one number from it; 0 when the script fails, after printing its output.
#pragma once

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "vpr/test_config.h"

namespace vpr_bench {

// `script` is relative to bench/, `args` its command-line arguments.
inline double PythonReference(const std::string& script, const std::string& args, const std::string& key) {
  std::string cmd = std::string(VPR_ORACLE_PYTHON) + " " + VPR_SOURCE_DIR + "/bench/" + script + " --json " + args;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return 0;
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, pipe.get())) out.append(buf, n);
  try {
    return nlohmann::json::parse(out.substr(out.find('{')))[key].get<double>();
  } catch (const std::exception&) {
    std::cerr << "python reference failed: " << cmd << "\n" << out << "\n";
    return 0;
  }
}

}  // namespace vpr_bench
