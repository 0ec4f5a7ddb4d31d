#ifndef FERSERVE_LIB_PFT_PFT_LOSSES_H_
#define FERSERVE_LIB_PFT_PFT_LOSSES_H_

// Internal to lib/pft: PFT's loss terms on LibTorch tensors. All are
// differentiable with respect to their first argument; targets are constants.

#include <torch/torch.h>

namespace fer::pft {

// Unbiased covariance of x: [N, D] -> [D, D] (N >= 2).
torch::Tensor Covariance(const torch::Tensor& x);

// Mean cross-entropy of logits [N, C] against class indices [N] (int64).
torch::Tensor CrossEntropy(const torch::Tensor& logits, const torch::Tensor& labels);

// Mean KL(softmax(logits) || target_probs) over the batch: the expression
// consistency term. Gradient flows through `logits` (the translated
// features' logits); `target_log_probs` [N, C] is a constant.
torch::Tensor ConsistencyKl(const torch::Tensor& logits, const torch::Tensor& target_log_probs);

// Mean alignment of x: [N, D] to a target mean [D]: ||mean(x) - mean||² / D.
torch::Tensor MeanAlignment(const torch::Tensor& x, const torch::Tensor& target_mean);

// Moment alignment of x: [N, D] to a target mean [D] and covariance [D, D]:
// ||mean(x) - mean||² / D + ||cov(x) - cov||_F² / D. Scale-free in D so that
// weights carry over between feature sizes.
torch::Tensor MomentAlignment(const torch::Tensor& x, const torch::Tensor& target_mean,
                              const torch::Tensor& target_cov);

// Squared maximum mean discrepancy between samples x [N, D] and y [M, D] with
// a sum of RBF kernels at bandwidths {0.5, 1, 2} x the median pairwise
// squared distance of y (biased estimator).
torch::Tensor RbfMmd(const torch::Tensor& x, const torch::Tensor& y);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_PFT_LOSSES_H_
