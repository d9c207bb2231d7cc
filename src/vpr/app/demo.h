// `vpr demo`: the whole pipeline on a synthetic route the project renders itself:
// render -> cluster (k-means centroids) -> extract -> search (FAISS) -> recall@N ->
// submission.json. Needs no download and finishes in a few minutes on 2 CPU cores.
#pragma once

#include <map>
#include <string>

#include "vpr/app/extract.h"
#include "vpr/data/synthetic.h"

namespace vpr {

struct DemoOptions {
  // Output folder: dataset/, model.pth, descriptors, submission.json, metrics.json.
  std::string out_dir = "vpr_demo";
  SyntheticOptions data;
  // Backbone of the untrained network (random weights, seeded).
  std::string arch = "vgg16";
  // Encoder cut; 0 = the arch's default.
  int cut = 0;
  // NetVLAD clusters, initialised by k-means on the database's local features.
  int clusters = 16;
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
  std::map<int, double> recall;  // N -> recall@N in [0,1]
  std::string submission_path;
  double seconds = 0.0;
};

DemoResult RunDemo(const DemoOptions& options);

}  // namespace vpr
