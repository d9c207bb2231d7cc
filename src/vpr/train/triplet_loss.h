// The NetVLAD triplet ranking loss as pytorch-NetVlad computes it.
#pragma once

#include <torch/torch.h>

namespace vpr {

// Sum over the tuple's negatives of max(d(q, p) - d(q, n_i) + margin, 0), d the L2
// distance with PyTorch's pairwise_distance epsilon: exactly
// torch.nn.TripletMarginLoss(margin, p=2, reduction='sum') over the negatives.
// query and positive: 1 x dim; negatives: n x dim. Returns a scalar.
torch::Tensor TripletLossSum(const torch::Tensor& query, const torch::Tensor& positive,
                             const torch::Tensor& negatives, double margin);

// The same from one forward pass over a tuple's images: rows q, p, n_1..n_k.
torch::Tensor TupleTripletLossSum(const torch::Tensor& descriptors, double margin);

}  // namespace vpr
