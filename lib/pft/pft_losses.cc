#include "lib/pft/pft_losses.h"

namespace fer::pft {

torch::Tensor Covariance(const torch::Tensor& x) {
  const torch::Tensor centered = x - x.mean(0, /*keepdim=*/true);
  return torch::matmul(centered.t(), centered) / static_cast<double>(x.size(0) - 1);
}

torch::Tensor CrossEntropy(const torch::Tensor& logits, const torch::Tensor& labels) {
  return torch::nll_loss(torch::log_softmax(logits, 1), labels);
}

torch::Tensor ConsistencyKl(const torch::Tensor& logits, const torch::Tensor& target_log_probs) {
  const torch::Tensor log_p = torch::log_softmax(logits, 1);
  return (log_p.exp() * (log_p - target_log_probs)).sum(1).mean();
}

torch::Tensor MeanAlignment(const torch::Tensor& x, const torch::Tensor& target_mean) {
  return (x.mean(0) - target_mean).pow(2).sum() / static_cast<double>(x.size(1));
}

torch::Tensor MomentAlignment(const torch::Tensor& x, const torch::Tensor& target_mean,
                              const torch::Tensor& target_cov) {
  const double dim = static_cast<double>(x.size(1));
  const torch::Tensor cov_term = (Covariance(x) - target_cov).pow(2).sum() / dim;
  return MeanAlignment(x, target_mean) + cov_term;
}

torch::Tensor RbfMmd(const torch::Tensor& x, const torch::Tensor& y) {
  const torch::Tensor dxx = torch::cdist(x, x).pow(2);
  const torch::Tensor dyy = torch::cdist(y, y).pow(2);
  const torch::Tensor dxy = torch::cdist(x, y).pow(2);
  const torch::Tensor median = dyy.detach().median().clamp_min(1e-6);
  torch::Tensor total = torch::zeros({}, x.options());
  for (double scale : {0.5, 1.0, 2.0}) {
    const torch::Tensor gamma = 1.0 / (scale * median);
    total = total + torch::exp(-gamma * dxx).mean() + torch::exp(-gamma * dyy).mean() -
            2.0 * torch::exp(-gamma * dxy).mean();
  }
  return total;
}

}  // namespace fer::pft
