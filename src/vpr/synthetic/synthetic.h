// A small synthetic place-recognition dataset the project renders itself: a route of
// street-like scenes seen twice, a database traversal and a query traversal with
// changed lighting, viewpoint and noise. Used by `vpr demo` and by tests.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace vpr {

struct SyntheticOptions {
  // Number of places along the route (one database and one query image each).
  int num_places = 80;
  // Image size in pixels.
  int height = 240;
  int width = 320;
  // Seed of the random generator; the same seed gives the same images.
  uint64_t seed = 7;
  // Lighting of the query traversal: true = dusk (lit windows, signs and street lamps,
  // twilight sky, no clouds); false = an overcast late afternoon (the daytime scene,
  // darker and warmer, under a grey sky).
  bool query_dusk = true;
  // Query brightness factor relative to the database.
  double query_brightness = 0.65;
  // Largest horizontal viewpoint shift of a query, in pixels.
  int query_max_shift_px = 16;
  // Standard deviation of the Gaussian pixel noise added to queries (0-255 scale).
  double query_noise_std = 6.0;
  // Distance between consecutive places along the route, in metres.
  double spacing_m = 5.0;
  // Horizontal advance of the camera between consecutive places, as a fraction of the
  // image width. Below 1 so that neighbouring places overlap, which is what makes a
  // +-1 place tolerance meaningful.
  double step_fraction = 0.3;
  // Largest extra zoom of a query (1 = none), as if seen from a little closer.
  double query_max_zoom = 1.1;
  // Probability that a query shows a transient object (a parked car, a pedestrian);
  // drawn independently for each kind.
  double query_transient_probability = 0.3;
  // Typical standard deviation, in pixels, of the Gaussian blur of a query (0 = none).
  double query_blur_sigma = 0.8;

  // Throws vpr::Error when a field is out of range.
  void Check() const;
};

struct SyntheticImage {
  std::string name;  // e.g. "database/place_0007.png"
  cv::Mat bgr;       // 8-bit, 3 channels, height x width
  double easting = 0.0;   // position along the route, metres
  double northing = 0.0;
};

struct SyntheticDataset {
  std::vector<SyntheticImage> database;
  std::vector<SyntheticImage> queries;  // queries[i] shows the place of database[i]
};

// Renders the dataset in memory. Deterministic for a given options.seed.
SyntheticDataset MakeSyntheticRoute(const SyntheticOptions& options);

// Writes dir/database/*.png, dir/queries/*.png and dir/positions.csv
// (name,easting,northing), creating folders as needed.
void WriteSyntheticDataset(const SyntheticDataset& dataset, const std::string& dir);

}  // namespace vpr
