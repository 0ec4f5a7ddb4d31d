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
    c10::InferenceMode inference;
    const torch::Tensor translated = t.Forward(x);  // once for all terms
    const torch::Tensor logits = head_t.Logits(translated);
    const torch::Tensor target = torch::full({x.size(0)}, neutral, torch::kInt64);
    return {CrossEntropy(logits, target), ConsistencyKl(logits, ref),
            MomentAlignment(translated, target_mean, target_cov)};
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
  const torch::Tensor neutral_train = torch::full({rows}, neutral, torch::kInt64);
  std::vector<int64_t> perm(rows);
  std::iota(perm.begin(), perm.end(), 0);
  size_t cursor = rows;

  for (int step = 1; step <= options.max_steps; ++step) {
    if (options.cancelled && options.cancelled()) {
      return absl::CancelledError(absl::StrCat("adaptation cancelled at step ", step));
    }
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
      torch::Tensor ce, kl, align;
      {
        torch::AutoGradMode enable_grad(true);
        // One forward pass for all data terms; the anchor's gradient is
        // added in closed form below instead of through autograd.
        const torch::Tensor translated = params.Forward(x);
        const torch::Tensor logits = head_t.Logits(translated);
        ce = CrossEntropy(
            logits, x.size(0) == rows ? neutral_train : neutral_train.narrow(0, 0, x.size(0)));
        kl = ConsistencyKl(logits, ref);
        align = MomentAlignment(translated, target_mean, target_cov);
        const torch::Tensor data_loss = options.cross_entropy_weight * ce +
                                        options.consistency_weight * kl +
                                        options.alignment_weight * align;
        optimizer.zero_grad();
        data_loss.backward();
      }
      // d/dθ w·||θ - θ0||² = 2w(θ - θ0), on the anchored tensors.
      double anchor = 0;
      for (size_t p = 0; p < theta.size(); ++p) {
        if (!options.anchor_biases && theta[p].dim() == 1) continue;
        const torch::Tensor diff = theta[p] - theta0[p];
        anchor += diff.pow(2).sum().item<double>();
        if (options.anchor_weight != 0) {
          theta[p].mutable_grad().add_(diff, 2.0 * options.anchor_weight);
        }
      }
      optimizer.step();
      const double c = ce.item<double>(), k = kl.item<double>(), a = align.item<double>();
      losses = {options.cross_entropy_weight * c + options.consistency_weight * k +
                    options.alignment_weight * a + options.anchor_weight * anchor,
                c, k, a, anchor};
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
