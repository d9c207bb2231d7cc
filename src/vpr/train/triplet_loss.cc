#include "vpr/train/triplet_loss.h"

#include "vpr/util/check.h"

namespace vpr {
namespace F = torch::nn::functional;

torch::Tensor TripletLossSum(const torch::Tensor& query, const torch::Tensor& positive,
                             const torch::Tensor& negatives, double margin) {
  VPR_CHECK(query.dim() == 2 && query.size(0) == 1 && positive.sizes() == query.sizes(),
            "triplet loss: query and positive must be 1 x dim, got ", query.sizes(), " and ", positive.sizes());
  VPR_CHECK(negatives.dim() == 2 && negatives.size(0) > 0 && negatives.size(1) == query.size(1),
            "triplet loss: negatives must be n x ", query.size(1), ", got ", negatives.sizes());
  const int64_t n = negatives.size(0);
  return F::triplet_margin_loss(query.expand({n, -1}), positive.expand({n, -1}), negatives,
                                F::TripletMarginLossFuncOptions().margin(margin).p(2).reduction(torch::kSum));
}

torch::Tensor TupleTripletLossSum(const torch::Tensor& descriptors, double margin) {
  VPR_CHECK(descriptors.dim() == 2 && descriptors.size(0) >= 3,
            "a tuple needs a query, a positive and at least one negative; got ", descriptors.sizes());
  return TripletLossSum(descriptors.slice(0, 0, 1), descriptors.slice(0, 1, 2), descriptors.slice(0, 2), margin);
}

}  // namespace vpr
