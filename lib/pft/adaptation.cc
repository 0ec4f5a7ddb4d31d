#include "lib/pft/adaptation.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <numeric>
#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lib/model/status_macros.h"
#include "lib/pft/pft_losses.h"
#include "lib/pft/translator_tensors.h"

namespace fer::pft {
namespace {

torch::Tensor Rows(const torch::Tensor& t, const std::vector<int64_t>& rows) {
  return t.index_select(0, torch::tensor(rows, torch::kInt64));
}

torch::Tensor StatsMean(const FeatureStats& s) { return torch::tensor(s.mean, torch::kFloat32); }
torch::Tensor StatsCov(const FeatureStats& s) {
  return torch::tensor(s.covariance, torch::kFloat32).reshape({s.dim, s.dim});
}

struct Terms {
  torch::Tensor ce, kl, align;
};

}  // namespace

absl::StatusOr<AdaptResult> Adapt(const ModelBundle& bundle, const LinearHead& head,
                                  const std::vector<float>& features, int count,
                                  const AdaptOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  FER_RETURN_IF_ERROR(head.Validate());
  const int dim = head.feature_dim;
  if (bundle.translator.dim() != dim || bundle.feature_dim != dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle is for ", bundle.translator.dim(), "-d features, the head for ", dim));
  }
  FER_RETURN_IF_ERROR(bundle.source_neutral_translated.Validate());
  if (bundle.source_neutral_translated.dim != dim) {
    return absl::InvalidArgumentError("bundle's neutral statistics have the wrong dim");
  }
  if (bundle.neutral_index < 0 || bundle.neutral_index >= head.num_classes()) {
    return absl::InvalidArgumentError("bundle's neutral index is outside the head's labels");
  }
  if (count < 2 || features.size() != static_cast<size_t>(count) * dim) {
    return absl::InvalidArgumentError(absl::StrCat("adaptation needs 2+ neutral features of dim ",
                                                   dim, ", got ", features.size(), " floats for ",
                                                   count));
  }
  if (options.max_steps < 0 || options.learning_rate <= 0 || options.eval_every <= 0) {
    return absl::InvalidArgumentError("adaptation needs max_steps >= 0, lr > 0, eval_every > 0");
  }

  // Split: shuffled rows, the first `holdout` held out.
  std::mt19937_64 rng(options.seed ^ 0xD1B54A32D192ED03ull);
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  int holdout = count >= 6 ? std::max(2, static_cast<int>(options.holdout_fraction * count)) : 0;
  if (options.holdout_fraction <= 0) holdout = 0;
  holdout = std::min(holdout, count - 2);
  const std::vector<int64_t> held(order.begin(), order.begin() + holdout);
  const std::vector<int64_t> train(order.begin() + holdout, order.end());

  torch::NoGradGuard no_grad;
  const HeadTensors head_t = HeadTensors::From(head);
  const torch::Tensor all = FeaturesTensor(features, count, dim);
  const torch::Tensor x_train = Rows(all, train);
  const torch::Tensor x_held = holdout > 0 ? Rows(all, held) : x_train;
  const torch::Tensor target_mean = StatsMean(bundle.source_neutral_translated);
  const torch::Tensor target_cov = StatsCov(bundle.source_neutral_translated);
  const torch::Tensor ref_train = torch::log_softmax(head_t.Logits(x_train), 1);
  const torch::Tensor ref_held = torch::log_softmax(head_t.Logits(x_held), 1);
  const int neutral = bundle.neutral_index;

  const TranslatorTensors initial = TranslatorTensors::From(bundle.translator, false);
  TranslatorTensors params = TranslatorTensors::From(bundle.translator, true);
  if (options.init_mean_alignment) {
    params.b2.add_(target_mean - initial.Forward(x_train).mean(0));
  }
  const std::vector<torch::Tensor> theta = params.Parameters();
  const std::vector<torch::Tensor> theta0 = initial.Parameters();
  torch::optim::Adam optimizer(theta, torch::optim::AdamOptions(options.learning_rate));

  auto terms = [&](const TranslatorTensors& t, const torch::Tensor& x,
                   const torch::Tensor& ref) -> Terms {
    const torch::Tensor logits = head_t.Logits(t.Forward(x));
    const torch::Tensor target = torch::full({x.size(0)}, neutral, torch::kInt64);
    return {CrossEntropy(logits, target), ConsistencyKl(logits, ref),
            MomentAlignment(t.Forward(x), target_mean, target_cov)};
  };
  auto held_loss = [&](const TranslatorTensors& t) {
    const Terms h = terms(t, x_held, ref_held);
    return (options.cross_entropy_weight * h.ce + options.consistency_weight * h.kl +
            options.alignment_weight * h.align)
        .item<double>();
  };

  AdaptReport report;
  report.train_count = static_cast<int>(train.size());
  report.holdout_count = holdout;
  double best = held_loss(params);
  TranslatorTensors best_params = params.Clone();
  int since_best = 0;
  const int rows = static_cast<int>(train.size());
  const int batch = options.batch_size > 0 ? std::min(options.batch_size, rows) : rows;
  std::vector<int64_t> perm(rows);
  std::iota(perm.begin(), perm.end(), 0);
  size_t cursor = rows;

  for (int step = 1; step <= options.max_steps; ++step) {
    torch::Tensor x = x_train;
    torch::Tensor ref = ref_train;
    if (batch < rows) {
      if (cursor + batch > static_cast<size_t>(rows)) {
        std::shuffle(perm.begin(), perm.end(), rng);
        cursor = 0;
      }
      const std::vector<int64_t> pick(perm.begin() + cursor, perm.begin() + cursor + batch);
      cursor += batch;
      x = Rows(x_train, pick);
      ref = Rows(ref_train, pick);
    }
    AdaptLosses losses;
    {
      torch::AutoGradMode enable_grad(true);
      // One forward pass for all data terms.
      const torch::Tensor translated = params.Forward(x);
      const torch::Tensor logits = head_t.Logits(translated);
      const torch::Tensor ce =
          CrossEntropy(logits, torch::full({x.size(0)}, neutral, torch::kInt64));
      const torch::Tensor kl = ConsistencyKl(logits, ref);
      const torch::Tensor align = MomentAlignment(translated, target_mean, target_cov);
      torch::Tensor anchor = torch::zeros({});
      for (size_t p = 0; p < theta.size(); ++p) {
        if (!options.anchor_biases && theta[p].dim() == 1) continue;
        anchor = anchor + (theta[p] - theta0[p]).pow(2).sum();
      }
      const torch::Tensor loss = options.cross_entropy_weight * ce +
                                 options.consistency_weight * kl +
                                 options.alignment_weight * align + options.anchor_weight * anchor;
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      losses = {loss.item<double>(), ce.item<double>(), kl.item<double>(), align.item<double>(),
                anchor.item<double>()};
    }
    report.steps = step;
    report.final_train = losses;
    if (options.progress) options.progress({step, options.max_steps, losses});
    if (step % options.eval_every == 0 || step == options.max_steps) {
      const double h = held_loss(params);
      if (h < best) {
        best = h;
        best_params = params.Clone();
        report.best_step = step;
        since_best = 0;
      } else if (++since_best >= options.patience && holdout > 0) {
        report.early_stopped = true;
        break;
      }
    }
  }
  report.best_holdout_loss = best;

  // Before/after on the held-out split.
  const torch::Tensor before = torch::log_softmax(head_t.Logits(initial.Forward(x_held)), 1);
  const torch::Tensor after = torch::log_softmax(head_t.Logits(best_params.Forward(x_held)), 1);
  report.neutral_rate_before =
      (before.argmax(1) == neutral).to(torch::kFloat64).mean().item<double>();
  report.neutral_rate_after =
      (after.argmax(1) == neutral).to(torch::kFloat64).mean().item<double>();
  report.mean_kl_to_generic = (after.exp() * (after - before)).sum(1).mean().item<double>();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return AdaptResult{best_params.ToTranslator(), report};
}

}  // namespace fer::pft
