// Binding of the option structs to CLI flags, defined once for every command that runs
// the model, so that --help shows the real defaults.
#pragma once

#include <CLI/CLI.hpp>

#include "vpr/app/extract.h"
#include "vpr/data/load_dataset.h"
#include "vpr/dist/process_group.h"
#include "vpr/geometric_verifier.h"
#include "vpr/model/model_io.h"
#include "vpr/place_recognizer.h"

namespace vpr {

// --backbone --cut --clusters --vladv2 --normalize --tf-padding --seed
struct ModelFlagBinding {
  ModelFlags flags;
  bool vladv2 = false;
  bool tf_padding = false;
  CLI::Option* vladv2_opt = nullptr;
  CLI::Option* tf_padding_opt = nullptr;
  void Bind(CLI::App& app);
  // Call after parsing: turns given/not-given switches into set/unset optionals.
  ModelFlags Resolve() const;
};

// --resize HxW --max-side N --full-decode
struct ImageFlagBinding {
  std::string resize;
  bool full_decode = false;
  ResizeOptions options;
  CLI::Option* resize_opt = nullptr;
  CLI::Option* max_side_opt = nullptr;
  void Bind(CLI::App& app);
  ResizeOptions Resolve();
  // After loading the model: without --resize/--max-side, *resize becomes the size the
  // checkpoint records (said in the log); a size given that differs is kept, with a warning.
  void AdoptCheckpointSize(const LoadedModel& loaded, ResizeOptions* resize) const;
};

// --dataset --root | --db --queries --frame-tolerance; --radius
struct DatasetFlagBinding {
  DatasetSource source;
  void Bind(CLI::App& app);
  // Call after parsing: checks that exactly one form was given.
  DatasetSource Resolve() const;
};

// --device --threads --precision
void BindRuntimeFlags(CLI::App& app, RuntimeOptions& runtime);

// --rank --world-size --master HOST:PORT --dist-timeout, defaulting to torchrun's
// environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Call Resolve() after parsing.
struct DistFlagBinding {
  DistOptions options = DistOptions::FromEnvironment();
  std::string master;
  void Bind(CLI::App& app);
  DistOptions Resolve();
};

// The public recognizer's --model (required) --max-side --threads --precision --device
void BindRecognizerFlags(CLI::App& app, RecognizerOptions& recognizer);

// --verify-features --verify-max-features --verify-max-side --verify-ratio --verify-model
// --verify-threshold --verify-iterations --verify-min-inliers
void BindVerifierFlags(CLI::App& app, VerifierOptions& verifier);

}  // namespace vpr
