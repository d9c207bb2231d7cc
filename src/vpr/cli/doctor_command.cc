// `vpr doctor`: load a dataset and report what would make its evaluation meaningless.
#include <iostream>

#include "vpr/cli/commands.h"
#include "vpr/cli/flags.h"
#include "vpr/cli/parse_flags.h"
#include "vpr/data/load_dataset.h"
#include "vpr/eval/dataset_doctor.h"
#include "vpr/util/logging.h"

namespace vpr {

int RunDoctorCommand(int argc, char** argv) {
  CLI::App app(
      "Check a dataset before using it: image files present and decodable, duplicates, declared counts,\n"
      "positions in the right unit (not degrees read as metres), queries without any positive within\n"
      "the radius, positives per query and the nearest database image per query (to choose a radius).\n"
      "Exit code: 0 no fatal problem, 1 fatal problems (the dataset would give meaningless recall) or the\n"
      "dataset cannot be loaded, 2 a wrong command line.",
      "vpr doctor");
  DatasetFlagBinding dataset_flags;
  DoctorOptions options;
  bool json = false, no_file_check = false;
  dataset_flags.Bind(app);
  app.add_flag("--json", json, "print the report as JSON on stdout instead of text");
  app.add_flag("--no-file-check", no_file_check, "do not look at the image files (no stat, no signature check)");
  app.add_option("--max-listed", options.max_listed, "examples listed per problem")->capture_default_str();
  VPR_PARSE_FLAGS(app, argc, argv);
  options.check_files = !no_file_check;

  const DatasetSource source = dataset_flags.Resolve();
  Dataset dataset;
  try {
    dataset = LoadDataset(source);
  } catch (const std::exception& e) {
    Log().error("cannot load the dataset: {}", e.what());
    if (json) std::cout << nlohmann::json{{"ok", false}, {"load_error", e.what()}}.dump(2) << std::endl;
    return kExitFailure;
  }
  DoctorReport report = Diagnose(dataset, options);
  if (json)
    std::cout << report.ToJson().dump(2) << std::endl;
  else
    std::cout << report.ToText() << std::flush;
  return report.ok() ? kExitOk : kExitFailure;
}

}  // namespace vpr
