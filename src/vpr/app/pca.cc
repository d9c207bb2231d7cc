#include "vpr/app/pca.h"

#include <algorithm>

#include "vpr/eval/recall.h"
#include "vpr/index/knn.h"
#include "vpr/model/model_io.h"
#include "vpr/util/check.h"
#include "vpr/util/logging.h"

namespace vpr {
namespace {

// A new model with options.wpca_dim = wpca_dim holding every weight of `model` but
// its WPCA layer, plus `extra` tensors (the new WPCA layer's).
VprModel CopyWithWpcaDim(VprModel& model, int64_t wpca_dim, const StateDict& extra) {
  ModelOptions options = model->options();
  options.wpca_dim = wpca_dim;
  VprModel out(options);
  StateDict state;
  for (auto& [key, value] : ModelStateDict(*model))
    if (key.rfind("WPCA.", 0) != 0) state.emplace_back(key, value);
  state.insert(state.end(), extra.begin(), extra.end());
  LoadStateDict(*out, state, "the WPCA update");
  out->eval();
  return out;
}

}  // namespace

VprModel SetWpca(VprModel& model, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t in = model->options().PooledDim();
  VPR_CHECK((weight.dim() == 2 || (weight.dim() == 4 && weight.size(2) == 1 && weight.size(3) == 1)) &&
                weight.size(1) == in,
            "the WPCA weight must be out x K*D (K*D = ", in, " for this model), got ", weight.sizes());
  const int64_t out = weight.size(0);
  VPR_CHECK(bias.dim() == 1 && bias.size(0) == out, "the WPCA bias must have ", out, " values, got ", bias.sizes());
  if (model->options().wpca_dim > 0)
    Log().info("replacing the model's {}-d WPCA layer by a {}-d one", model->options().wpca_dim, out);
  at::Tensor w = weight.detach().to(at::kCPU, at::kFloat).reshape({out, in, 1, 1}).contiguous();
  at::Tensor b = bias.detach().to(at::kCPU, at::kFloat).contiguous();
  return CopyWithWpcaDim(model, out, {{"WPCA.0.weight", w}, {"WPCA.0.bias", b}});
}

VprModel SetWpca(VprModel& model, const Wpca& wpca) {
  at::Tensor w = at::from_blob(const_cast<float*>(wpca.weight.data()), {wpca.out_dim, wpca.in_dim}, at::kFloat);
  at::Tensor b = at::from_blob(const_cast<float*>(wpca.bias.data()), {wpca.out_dim}, at::kFloat);
  return SetWpca(model, w.clone(), b.clone());
}

VprModel WithoutWpca(VprModel& model) { return CopyWithWpcaDim(model, 0, {}); }

void RecallVsDimOptions::Check() const {
  VPR_CHECK_USAGE(!dims.empty(), "give at least one descriptor size to evaluate");
  for (int64_t d : dims) VPR_CHECK_USAGE(d >= 0, "descriptor sizes must be >= 0 (0 = full), got ", d);
  VPR_CHECK_USAGE(!recall_at.empty(), "give at least one N of recall@N");
  for (int n : recall_at) VPR_CHECK_USAGE(n > 0, "recall@N needs N > 0, got ", n);
  VPR_CHECK_USAGE(epsilon >= 0, "the WPCA epsilon must be >= 0, got ", epsilon);
}

nlohmann::json DimRecall::ToJson() const {
  nlohmann::json at = nlohmann::json::object();
  for (const auto& [n, r] : recall) at[std::to_string(n)] = r;
  return {{"dim", dim}, {"bytes_per_descriptor", bytes_per_descriptor}, {"whitened", whitened}, {"recall_at", at}};
}

namespace {

// The dims that can be evaluated (0 = full), warning about the others.
std::vector<int64_t> UsableDims(const std::vector<int64_t>& dims, int64_t n_db, int64_t dim) {
  std::vector<int64_t> usable;
  for (int64_t d : dims) {
    if (d == 0 || d == dim) {
      usable.push_back(0);
    } else if (d > dim) {
      Log().warn("recall vs dim: skipping {}: above the descriptors' {} dims", d, dim);
    } else if (d >= n_db) {
      Log().warn("recall vs dim: skipping {}: WPCA to {} dims needs more than {} database descriptors, there are {}",
                 d, d, d, n_db);
    } else {
      usable.push_back(d);
    }
  }
  return usable;
}

DimRecall Score(const float* db, int64_t n_db, const float* queries, int64_t n_q, int64_t dim,
                const std::vector<std::vector<int64_t>>& positives, const std::vector<int>& recall_at) {
  int64_t k = *std::max_element(recall_at.begin(), recall_at.end());
  KnnResult knn = ExactKnnL2(db, n_db, queries, n_q, dim, k);
  DimRecall row;
  row.dim = dim;
  row.bytes_per_descriptor = 4 * dim;
  row.recall = RecallAtN(knn, positives, recall_at);
  return row;
}

}  // namespace

std::vector<DimRecall> RecallVsDim(const float* db, int64_t n_db, const float* queries, int64_t n_q, int64_t dim,
                                   const std::vector<std::vector<int64_t>>& positives,
                                   const RecallVsDimOptions& options) {
  options.Check();
  VPR_CHECK(n_db > 0 && dim > 0, "recall vs dim needs database descriptors, got ", n_db, " x ", dim);
  VPR_CHECK(static_cast<int64_t>(positives.size()) == n_q, "ground truth has ", positives.size(),
            " queries but there are ", n_q, " query descriptors");
  std::vector<int64_t> dims = UsableDims(options.dims, n_db, dim);
  int64_t largest = dims.empty() ? 0 : *std::max_element(dims.begin(), dims.end());
  Wpca wpca;
  if (largest > 0) wpca = FitWpca(db, n_db, dim, {largest, options.epsilon});
  std::vector<DimRecall> rows;
  for (int64_t d : dims) {
    if (d == 0) {
      rows.push_back(Score(db, n_db, queries, n_q, dim, positives, options.recall_at));
    } else {
      Wpca kept = wpca.Truncated(d);
      std::vector<float> pdb = kept.Project(db, n_db), pq = kept.Project(queries, n_q);
      rows.push_back(Score(pdb.data(), n_db, pq.data(), n_q, d, positives, options.recall_at));
      rows.back().whitened = true;
    }
    Log().info("recall vs dim: {} dims ({}, {} bytes): {}", rows.back().dim, d == 0 ? "full" : "WPCA",
               rows.back().bytes_per_descriptor, rows.back().ToJson()["recall_at"].dump());
  }
  return rows;
}

}  // namespace vpr
