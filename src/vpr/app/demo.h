// `vpr demo`: the whole pipeline on a synthetic route the project renders itself:
// render -> cluster (k-means centroids) -> extract -> search (FAISS) -> recall@N -> the
// files `vpr eval` writes (submission.json, metrics.json, report.html, ...). Needs no
// download and finishes in well under a minute on 2 CPU cores.
#pragma once

#include <string>

#include "vpr/app/eval.h"
#include "vpr/app/extract.h"
#include "vpr/synthetic/synthetic.h"

namespace vpr {

// The demo's route: SyntheticOptions' defaults, except that the queries are taken on an
// overcast late afternoon (darker, warmer, grey sky) rather than at dusk, with a little
// less zoom. An untrained network cannot bridge day -> dusk (lit windows, different sky):
// on the dusk route recall@1 stays near chance; this keeps a real change of lighting,
// viewpoint (shift, zoom), blur, noise and transient objects that it can bridge.
inline SyntheticOptions DemoRoute() {
  SyntheticOptions o;
  o.query_dusk = false;
  o.query_brightness = 0.85;
  o.query_max_zoom = 1.05;
  return o;
}

struct DemoOptions {
  // Output folder: dataset/, model.pth and what `vpr eval` writes (eval_outputs.h).
  std::string out_dir = "vpr_demo";
  SyntheticOptions data = DemoRoute();
  // Backbone of the untrained network (random weights, seeded). ResNet-18 after layer2
  // (128-d, stride 8) is both the fastest and the most accurate of the measured choices
  // untrained (VGG16 conv3_3/conv5_3 and MobileNetV2 do worse and take 2-10x longer).
  std::string arch = "resnet18";
  // Encoder cut; 0 = the arch's default.
  int cut = 6;
  // NetVLAD clusters, initialised by k-means on the database's local features.
  int clusters = 64;
  // Local features sampled per database image for k-means.
  int samples_per_image = 100;
  // Search depth (the submission lists this many database ids per query).
  int top_k = 20;
  // A database image is a positive for a query within this distance, metres.
  double positive_radius_m = 7.5;
  // Seed of the network weights and the sampling.
  uint64_t seed = 1;
  RuntimeOptions runtime;
  void Check() const;
};

struct DemoResult {
  EvalResult eval;   // scored as `vpr eval` scores; eval.report.scores.recall: N -> recall@N
  Dataset dataset;   // the rendered route, as vpr eval would load it
  std::string submission_path;
  double seconds = 0.0;
};

DemoResult RunDemo(const DemoOptions& options);

}  // namespace vpr
