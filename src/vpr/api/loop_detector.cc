// The loop detector: retrieval from the detector's own database with the recent past left
// out, islands of neighbouring frames, temporal consistency, optional verification.
#include "vpr/loop_detector.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include "vpr/util/atomic_file.h"
#include "vpr/util/check.h"
#include "vpr/util/versioned_file.h"

namespace vpr {

void LoopDetectorOptions::Check() const {
  VPR_CHECK_USAGE(exclude_recent_seconds >= 0 && std::isfinite(exclude_recent_seconds),
                  "LoopDetectorOptions::exclude_recent_seconds must be >= 0, got ", exclude_recent_seconds);
  VPR_CHECK_USAGE(exclude_recent_frames >= 0, "LoopDetectorOptions::exclude_recent_frames must be >= 0, got ",
                  exclude_recent_frames);
  VPR_CHECK_USAGE(candidates >= 1 && candidates <= 1000, "LoopDetectorOptions::candidates must be in [1, 1000], got ",
                  candidates);
  VPR_CHECK_USAGE(max_distance > 0 && max_distance <= 4, "LoopDetectorOptions::max_distance must be in (0, 4] ",
                  "(squared L2 of unit descriptors), got ", max_distance);
  VPR_CHECK_USAGE(island_gap >= 0, "LoopDetectorOptions::island_gap must be >= 0, got ", island_gap);
  VPR_CHECK_USAGE(temporal_consistency >= 1, "LoopDetectorOptions::temporal_consistency must be >= 1 (1 = off), got ",
                  temporal_consistency);
  VPR_CHECK_USAGE(temporal_window >= 0, "LoopDetectorOptions::temporal_window must be >= 0, got ", temporal_window);
  VPR_CHECK_USAGE(verify_candidates >= 1, "LoopDetectorOptions::verify_candidates must be >= 1, got ",
                  verify_candidates);
  if (verify) verifier.Check();
}

const char* LoopStatusName(LoopStatus status) {
  switch (status) {
    case LoopStatus::kLoopDetected: return "loop_detected";
    case LoopStatus::kNoDbResults: return "no_db_results";
    case LoopStatus::kCloseMatchesOnly: return "close_matches_only";
    case LoopStatus::kLowScores: return "low_scores";
    case LoopStatus::kNoTemporalConsistency: return "no_temporal_consistency";
    case LoopStatus::kNoGeometricalConsistency: return "no_geometrical_consistency";
  }
  return "unknown";
}

namespace {

// Frames [first, last] whose candidates were retrieved together; best = nearest member.
struct Island {
  int64_t first = 0, last = 0;
  float score = 0;  // the sum of the members' cosine similarities (1 - d/2)
  std::vector<Match> members;  // nearest first
};

std::vector<Island> Islands(std::vector<Match> matches, int gap) {
  std::sort(matches.begin(), matches.end(), [](const Match& a, const Match& b) { return a.id < b.id; });
  std::vector<Island> islands;
  for (const Match& m : matches) {
    if (islands.empty() || m.id - islands.back().last > gap) islands.push_back({m.id, m.id, 0, {}});
    Island& island = islands.back();
    island.last = m.id;
    island.score += 1.0f - m.distance / 2;
    island.members.push_back(m);
  }
  for (Island& island : islands)
    std::sort(island.members.begin(), island.members.end(),
              [](const Match& a, const Match& b) { return a.distance < b.distance; });
  return islands;
}

nlohmann::json OptionsJson(const LoopDetectorOptions& o) {
  const VerifierOptions& v = o.verifier;
  return {{"exclude_recent_seconds", o.exclude_recent_seconds},
          {"exclude_recent_frames", o.exclude_recent_frames},
          {"candidates", o.candidates},
          {"max_distance", o.max_distance},
          {"island_gap", o.island_gap},
          {"temporal_consistency", o.temporal_consistency},
          {"temporal_window", o.temporal_window},
          {"verify", o.verify},
          {"verify_candidates", o.verify_candidates},
          {"verifier",
           {{"features", v.features},
            {"max_features", v.max_features},
            {"max_side", v.max_side},
            {"ratio", v.ratio},
            {"mutual", v.mutual},
            {"model", v.model},
            {"ransac_threshold", v.ransac_threshold},
            {"ransac_iterations", v.ransac_iterations},
            {"ransac_confidence", v.ransac_confidence},
            {"min_inliers", v.min_inliers},
            {"min_inlier_ratio", v.min_inlier_ratio}}}};
}

LoopDetectorOptions OptionsFromJson(const nlohmann::json& j) {
  LoopDetectorOptions o;
  o.exclude_recent_seconds = j.at("exclude_recent_seconds");
  o.exclude_recent_frames = j.at("exclude_recent_frames");
  o.candidates = j.at("candidates");
  o.max_distance = j.at("max_distance");
  o.island_gap = j.at("island_gap");
  o.temporal_consistency = j.at("temporal_consistency");
  o.temporal_window = j.at("temporal_window");
  o.verify = j.at("verify");
  o.verify_candidates = j.at("verify_candidates");
  const nlohmann::json& v = j.at("verifier");
  o.verifier.features = v.at("features");
  o.verifier.max_features = v.at("max_features");
  o.verifier.max_side = v.at("max_side");
  o.verifier.ratio = v.at("ratio");
  o.verifier.mutual = v.at("mutual");
  o.verifier.model = v.at("model");
  o.verifier.ransac_threshold = v.at("ransac_threshold");
  o.verifier.ransac_iterations = v.at("ransac_iterations");
  o.verifier.ransac_confidence = v.at("ransac_confidence");
  o.verifier.min_inliers = v.at("min_inliers");
  o.verifier.min_inlier_ratio = v.at("min_inlier_ratio");
  return o;
}

// File layout: magic, version (u32), header length (u64), JSON header (options, state,
// features' shapes), the database's bytes, then each frame's features (x, y, descriptors).
constexpr char kMagic[8] = {'V', 'P', 'R', 'L', 'O', 'O', 'P', '\n'};
constexpr uint32_t kFormatVersion = 1;

template <typename T>
void AppendRaw(std::string& bytes, const T* data, size_t count) {
  bytes.append(reinterpret_cast<const char*>(data), count * sizeof(T));
}

}  // namespace

struct LoopDetector::Impl {
  LoopDetectorOptions options;
  std::shared_ptr<const PlaceRecognizer> recognizer;
  std::unique_ptr<GeometricVerifier> verifier;
  PlaceDatabase database;
  std::map<int64_t, LocalFeatures> features;  // by frame id, when verifying
  // Temporal state: the previous frame's best island and how many frames in a row found it.
  int64_t island_first = -1, island_last = -1;
  int consistent = 0;
  double last_time = -std::numeric_limits<double>::infinity();

  Impl(int dim, const LoopDetectorOptions& o) : options(o), database(dim) {
    options.Check();
    if (options.verify) verifier = std::make_unique<GeometricVerifier>(options.verifier);
  }

  void UpdateConsistency(const Island& island) {
    const bool continues = consistent > 0 && island.first <= island_last + options.temporal_window &&
                           island.last + options.temporal_window >= island_first;
    consistent = continues ? consistent + 1 : 1;
    island_first = island.first;
    island_last = island.last;
  }

  // Retrieval, islands and temporal consistency; the result before verification.
  LoopResult Candidates(const std::vector<float>& d, double time, Island* best) {
    LoopResult r;
    auto no_loop = [&](LoopStatus status) {
      consistent = 0;  // a frame without candidates breaks the run of consistent frames
      r.status = status;
      return r;
    };
    if (database.size() == 0) return no_loop(LoopStatus::kNoDbResults);
    QueryFilter filter;
    filter.exclude_last = options.exclude_recent_frames;
    if (options.exclude_recent_seconds > 0) filter.before_time = time - options.exclude_recent_seconds;
    std::vector<Match> matches = database.Query(d, options.candidates, filter);
    if (matches.empty()) return no_loop(LoopStatus::kCloseMatchesOnly);
    r.match_id = matches.front().id;
    r.distance = matches.front().distance;
    matches.erase(std::remove_if(matches.begin(), matches.end(),
                                 [&](const Match& m) { return m.distance > options.max_distance; }),
                  matches.end());
    if (matches.empty()) return no_loop(LoopStatus::kLowScores);
    std::vector<Island> islands = Islands(matches, options.island_gap);
    *best = *std::max_element(islands.begin(), islands.end(),
                              [](const Island& a, const Island& b) { return a.score < b.score; });
    r.match_id = best->members.front().id;
    r.distance = best->members.front().distance;
    UpdateConsistency(*best);
    r.consistent_frames = consistent;
    r.status = consistent >= options.temporal_consistency ? LoopStatus::kLoopDetected
                                                         : LoopStatus::kNoTemporalConsistency;
    return r;
  }

  void Verify(const LocalFeatures& query, const Island& island, LoopResult& r) const {
    r.status = LoopStatus::kNoGeometricalConsistency;
    const int n = std::min<int>(options.verify_candidates, static_cast<int>(island.members.size()));
    for (int i = 0; i < n; ++i) {
      auto it = features.find(island.members[static_cast<size_t>(i)].id);
      if (it == features.end()) continue;
      const Verification v = verifier->Verify(query, it->second);
      if (i == 0 || v.verified) {
        r.match_id = island.members[static_cast<size_t>(i)].id;
        r.distance = island.members[static_cast<size_t>(i)].distance;
        r.inliers = v.inliers;
      }
      if (v.verified) {
        r.status = LoopStatus::kLoopDetected;
        return;
      }
    }
  }

  LoopResult Process(const std::vector<float>& d, double time, const std::string& name, const LocalFeatures* f) {
    VPR_CHECK(!options.verify || f, "LoopDetector::Process: options.verify is on, so each frame needs its local ",
              "features (GeometricVerifier::Extract), or pass images");
    VPR_CHECK(time >= last_time, "LoopDetector::Process: frames must come in time order; got time ", time,
              " after ", last_time);
    Island best;
    LoopResult r = Candidates(d, time, &best);
    if (r.detected() && options.verify) Verify(*f, best, r);
    r.id = database.Add(d, PlaceInfo{name, 0.0, 0.0, time});
    if (options.verify) features[r.id] = *f;
    last_time = time;
    return r;
  }

  std::string ToBytes() const {
    nlohmann::json shapes = nlohmann::json::array();
    for (const auto& [id, f] : features)
      shapes.push_back({id, f.size(), f.width, f.height, f.descriptors.type(), f.descriptors.cols});
    const std::string database_bytes = database.ToBytes();
    const std::string header = nlohmann::json{{"options", OptionsJson(options)},
                                              {"state", {island_first, island_last, consistent, last_time}},
                                              {"database_bytes", database_bytes.size()},
                                              {"features", shapes}}
                                   .dump();
    std::string bytes = VersionedPrefix(kMagic, kFormatVersion, header) + database_bytes;
    for (const auto& [id, f] : features) {
      AppendRaw(bytes, f.x.data(), f.size());
      AppendRaw(bytes, f.y.data(), f.size());
      const cv::Mat d = f.descriptors.isContinuous() ? f.descriptors : f.descriptors.clone();
      AppendRaw(bytes, d.data, d.total() * d.elemSize());
    }
    return bytes;
  }
};

LoopDetector::LoopDetector(int dim, const LoopDetectorOptions& options)
    : impl_(std::make_unique<Impl>(dim, options)) {}

LoopDetector::LoopDetector(std::shared_ptr<const PlaceRecognizer> recognizer, const LoopDetectorOptions& options) {
  VPR_CHECK_USAGE(recognizer, "LoopDetector needs a recognizer to process images (or construct it with a dimension)");
  impl_ = std::make_unique<Impl>(recognizer->dim(), options);
  impl_->recognizer = std::move(recognizer);
}

LoopDetector::LoopDetector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LoopDetector::~LoopDetector() = default;
LoopDetector::LoopDetector(LoopDetector&&) noexcept = default;
LoopDetector& LoopDetector::operator=(LoopDetector&&) noexcept = default;

LoopResult LoopDetector::Process(const cv::Mat& image, double time, const std::string& name) {
  VPR_CHECK(impl_->recognizer, "LoopDetector::Process(image): this detector was made for descriptors; construct it ",
            "with a PlaceRecognizer to feed images");
  VPR_CHECK(!image.empty(), "LoopDetector::Process: the image of frame '", name, "' is empty (did cv::imread fail?)");
  const std::vector<float> d = impl_->recognizer->Describe(image);
  if (!impl_->options.verify) return impl_->Process(d, time, name, nullptr);
  const LocalFeatures f = impl_->verifier->Extract(image);
  return impl_->Process(d, time, name, &f);
}

LoopResult LoopDetector::Process(const std::vector<float>& descriptor, double time, const std::string& name,
                                 const LocalFeatures* features) {
  return impl_->Process(descriptor, time, name, features);
}

const PlaceDatabase& LoopDetector::database() const { return impl_->database; }
const LoopDetectorOptions& LoopDetector::options() const { return impl_->options; }

void LoopDetector::Save(const std::string& path) const { WriteFileAtomic(path, impl_->ToBytes()); }

LoopDetector LoopDetector::Load(const std::string& path, std::shared_ptr<const PlaceRecognizer> recognizer) {
  const std::string bytes = ReadFileBytes(path);
  const std::string what = "'" + path + "'";
  size_t at = 0;
  const std::string header_text =
      ReadVersionedHeader(bytes, kMagic, kFormatVersion, what, "vpr loop detector", "LoopDetector::Save", &at);
  try {
    const nlohmann::json header = nlohmann::json::parse(header_text);
    const uint64_t database_bytes = header.at("database_bytes");
    VPR_CHECK(database_bytes <= bytes.size() - at, what, " is cut short inside its database");
    PlaceDatabase database = PlaceDatabase::FromBytes(bytes.substr(at, database_bytes), what + " (its database)");
    at += database_bytes;
    auto impl = std::make_unique<Impl>(database.dim(), OptionsFromJson(header.at("options")));
    impl->database = std::move(database);
    impl->recognizer = std::move(recognizer);
    VPR_CHECK(!impl->recognizer || impl->recognizer->dim() == impl->database.dim(), what, " holds ",
              impl->database.dim(), "-d descriptors but the recognizer gives ", impl->recognizer->dim(),
              "-d: load it with the model it was built with");
    const nlohmann::json& state = header.at("state");
    impl->island_first = state.at(0);
    impl->island_last = state.at(1);
    impl->consistent = state.at(2);
    impl->last_time = state.at(3).is_null() ? -std::numeric_limits<double>::infinity() : state.at(3).get<double>();
    for (const nlohmann::json& s : header.at("features")) {
      LocalFeatures f;
      const uint64_t n = s.at(1), cols = s.at(5);
      const int type = s.at(4);
      VPR_CHECK(type == CV_8U || type == CV_32F, what, " holds local features of an unknown type ", type);
      const size_t descriptor_bytes = n * cols * (type == CV_8U ? 1 : 4);
      VPR_CHECK(n <= (1u << 24) && cols <= 4096 && 8 * n + descriptor_bytes <= bytes.size() - at, what,
                " is cut short inside the local features of frame ", s.at(0).get<int64_t>());
      f.width = s.at(2);
      f.height = s.at(3);
      f.x.resize(n);
      f.y.resize(n);
      std::memcpy(f.x.data(), bytes.data() + at, 4 * n);
      std::memcpy(f.y.data(), bytes.data() + at + 4 * n, 4 * n);
      at += 8 * n;
      f.descriptors = cv::Mat(static_cast<int>(n), static_cast<int>(cols), type);
      if (descriptor_bytes) std::memcpy(f.descriptors.data, bytes.data() + at, descriptor_bytes);
      at += descriptor_bytes;
      impl->features[s.at(0).get<int64_t>()] = std::move(f);
    }
    VPR_CHECK(at == bytes.size(), what, " has ", bytes.size() - at, " bytes after its last frame: the file is corrupt");
    return LoopDetector(std::move(impl));
  } catch (const nlohmann::json::exception& e) {
    VPR_THROW(what, " has a corrupt header: ", e.what());
  }
}

}  // namespace vpr
