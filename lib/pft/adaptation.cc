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

torch::Tensor StatsMean(const FeatureStats& s) { return torch::tensor(s.mean, torch::kFloat32); }
torch::Tensor StatsCov(const FeatureStats& s) {
  return torch::tensor(s.covariance, torch::kFloat32).reshape({s.dim, s.dim});
}

struct Terms {
  torch::Tensor ce, kl, align, preserve;
};

// The weighted sum of the data terms (all but the anchor), for tensors and
// for their values.
template <typename T>
T WeightedDataLoss(const AdaptOptions& o, const T& ce, const T& kl, const T& align,
                   const T& preserve) {
  return o.cross_entropy_weight * ce + o.consistency_weight * kl + o.alignment_weight * align +
         o.preservation_weight * preserve;
}

// Row indices 0..rows-1 taken `n` at a time in a shuffled order that is
// reshuffled whenever fewer than `n` remain (n <= rows).
class ShuffledCycle {
 public:
  explicit ShuffledCycle(int rows) : order_(rows), next_(rows) {
    std::iota(order_.begin(), order_.end(), 0);
  }
  std::vector<int64_t> Take(size_t n, std::mt19937_64& rng) {
    if (next_ + n > order_.size()) {
      std::shuffle(order_.begin(), order_.end(), rng);
      next_ = 0;
    }
    next_ += n;
    return std::vector<int64_t>(order_.begin() + (next_ - n), order_.begin() + next_);
  }

 private:
  std::vector<int64_t> order_;
  size_t next_;
};

// Sets the calling thread's intra-op thread count for a scope. LibTorch's
// OpenMP backend keeps it per thread, so other threads' inference keeps its
// own.
class ScopedIntraOpThreads {
 public:
  explicit ScopedIntraOpThreads(int threads) : saved_(at::get_num_threads()) {
    if (threads > 0 && threads != saved_) at::set_num_threads(threads);
  }
  ~ScopedIntraOpThreads() {
    if (at::get_num_threads() != saved_) at::set_num_threads(saved_);
  }

 private:
  const int saved_;
};

absl::Status CheckAdaptInputs(const ModelBundle& bundle, const LinearHead& head,
                              const std::vector<float>& features, int count,
                              const AdaptOptions& options) {
  FER_RETURN_IF_ERROR(head.Validate());
  const int dim = head.feature_dim();
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
  return absl::OkStatus();
}

// The rows of `count` features in a shuffled order, the first ones held out
// to decide when to stop (none for fewer than 6 rows; 2 always train).
struct HoldoutSplit {
  std::vector<int64_t> train, held;
};

HoldoutSplit SplitForHoldout(int count, double holdout_fraction, std::mt19937_64& rng) {
  std::vector<int64_t> order(count);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  int holdout = count >= 6 ? std::max(2, static_cast<int>(holdout_fraction * count)) : 0;
  if (holdout_fraction <= 0) holdout = 0;
  holdout = std::min(holdout, count - 2);
  return {std::vector<int64_t>(order.begin() + holdout, order.end()),
          std::vector<int64_t>(order.begin(), order.begin() + holdout)};
}

// What adaptation minimizes, on the user's neutral features x: the frozen
// head's cross-entropy towards neutral, the KL to the head's prediction on
// the untranslated features, the translated features' alignment to the
// bundle's neutral moments, and the preservation of expressions. For the
// last, each neutral feature is moved along each class's direction
// d_c = (w_c - w_n) / |w_c - w_n|² until, through the starting translator,
// the head puts class c `probe_margin` logits above neutral; the adapted
// translator must keep those probes in their classes.
class AdaptObjective {
 public:
  AdaptObjective(const ModelBundle& bundle, const LinearHead& head, const AdaptOptions& options)
      : options_(options),
        head_(HeadTensors::From(head)),
        neutral_(bundle.neutral_index),
        dim_(head.feature_dim()),
        target_mean_(StatsMean(bundle.source_neutral_translated)),
        target_cov_(StatsCov(bundle.source_neutral_translated)) {
    std::vector<int64_t> classes;
    std::vector<torch::Tensor> directions;
    for (int c = 0; c < head.num_classes(); ++c) {
      if (c == neutral_) continue;
      const torch::Tensor d = head_.weight[c] - head_.weight[neutral_];
      directions.push_back(d / d.pow(2).sum().clamp_min(1e-12));
      classes.push_back(c);
    }
    probe_dirs_ = torch::stack(directions, 0);  // [C-1, D]
    probe_classes_ = torch::tensor(classes, torch::kInt64);
  }

  const torch::Tensor& target_mean() const { return target_mean_; }

  // The head's log-probabilities, the reference of the consistency term.
  torch::Tensor Reference(const torch::Tensor& x) const {
    return torch::log_softmax(head_.Logits(x), 1);
  }

  // [rows, C-1, D] expression probes of x through `translator`.
  torch::Tensor Probes(const TranslatorTensors& translator, const torch::Tensor& x) const {
    const torch::Tensor logits = head_.Logits(translator.Forward(x));
    const torch::Tensor gap = options_.probe_margin - (logits.index_select(1, probe_classes_) -
                                                       logits.select(1, neutral_).unsqueeze(1));
    return x.unsqueeze(1) + gap.unsqueeze(2) * probe_dirs_.unsqueeze(0);
  }

  Terms Evaluate(const TranslatorTensors& t, const torch::Tensor& x, const torch::Tensor& ref,
                 const torch::Tensor& probes) const {
    const torch::Tensor translated = t.Forward(x);  // once for all terms
    const torch::Tensor logits = head_.Logits(translated);
    const torch::Tensor target = torch::full({x.size(0)}, neutral_, torch::kInt64);
    return {CrossEntropy(logits, target), ConsistencyKl(logits, ref), Alignment(translated),
            Preservation(t, probes)};
  }

  // The weighted data loss without gradients, for held-out evaluation.
  double Loss(const TranslatorTensors& t, const torch::Tensor& x, const torch::Tensor& ref,
              const torch::Tensor& probes) const {
    c10::InferenceMode inference;
    const Terms h = Evaluate(t, x, ref, probes);
    return WeightedDataLoss(options_, h.ce, h.kl, h.align, h.preserve).item<double>();
  }

  // The head's log-probabilities for x through `translator`, and the share
  // of rows they call neutral.
  torch::Tensor LogProbabilities(const TranslatorTensors& translator,
                                 const torch::Tensor& x) const {
    return torch::log_softmax(head_.Logits(translator.Forward(x)), 1);
  }
  double NeutralRate(const torch::Tensor& log_probabilities) const {
    return (log_probabilities.argmax(1) == neutral_).to(torch::kFloat64).mean().item<double>();
  }

 private:
  torch::Tensor Alignment(const torch::Tensor& translated) const {
    if (options_.align_covariance) return MomentAlignment(translated, target_mean_, target_cov_);
    return MeanAlignment(translated, target_mean_);
  }
  torch::Tensor Preservation(const TranslatorTensors& t, const torch::Tensor& probes) const {
    const int64_t n = probes.size(0), k = probes.size(1);
    const torch::Tensor logits = head_.Logits(t.Forward(probes.reshape({n * k, dim_})));
    return CrossEntropy(logits, probe_classes_.repeat({n}));
  }

  const AdaptOptions& options_;
  const HeadTensors head_;
  const int neutral_;
  const int dim_;
  const torch::Tensor target_mean_, target_cov_;
  torch::Tensor probe_dirs_, probe_classes_;
};

// One optimizer step on the batch x (with its reference and probes); gives
// the batch's losses before the step.
AdaptLosses TakeStep(const AdaptObjective& objective, const AdaptOptions& options,
                     const TranslatorTensors& params, const std::vector<torch::Tensor>& theta0,
                     torch::optim::Adam& optimizer, const torch::Tensor& x,
                     const torch::Tensor& ref, const torch::Tensor& probes) {
  const std::vector<torch::Tensor> theta = params.Parameters();
  Terms t;
  {
    torch::AutoGradMode enable_grad(true);
    // One forward pass for all data terms; the anchor's gradient is added in
    // closed form below instead of through autograd.
    t = objective.Evaluate(params, x, ref, probes);
    optimizer.zero_grad();
    WeightedDataLoss(options, t.ce, t.kl, t.align, t.preserve).backward();
  }
  // d/dθ w·||θ - θ0||² = 2w(θ - θ0), on the anchored tensors.
  double anchor = 0;
  for (size_t p = 0; p < theta.size(); ++p) {
    if (!options.anchor_biases && theta[p].dim() == 1) continue;
    const torch::Tensor diff = theta[p] - theta0[p];
    anchor += diff.pow(2).sum().item<double>();
    if (options.anchor_weight != 0) theta[p].mutable_grad().add_(diff, 2.0 * options.anchor_weight);
  }
  optimizer.step();
  const double c = t.ce.item<double>(), k = t.kl.item<double>(), a = t.align.item<double>(),
               e = t.preserve.item<double>();
  return {
      WeightedDataLoss(options, c, k, a, e) + options.anchor_weight * anchor, c, k, a, anchor, e};
}

}  // namespace

absl::StatusOr<AdaptResult> Adapt(const ModelBundle& bundle, const LinearHead& head,
                                  const std::vector<float>& features, int count,
                                  const AdaptOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  FER_RETURN_IF_ERROR(CheckAdaptInputs(bundle, head, features, count, options));
  std::mt19937_64 rng(options.seed ^ 0xD1B54A32D192ED03ull);
  const HoldoutSplit split = SplitForHoldout(count, options.holdout_fraction, rng);
  const int holdout = static_cast<int>(split.held.size());

  ScopedIntraOpThreads threads(options.threads);
  torch::NoGradGuard no_grad;
  const AdaptObjective objective(bundle, head, options);
  const torch::Tensor all = FeaturesTensor(features, count, head.feature_dim());
  const torch::Tensor x_train = Rows(all, split.train);
  const torch::Tensor x_held = holdout > 0 ? Rows(all, split.held) : x_train;
  const torch::Tensor ref_train = objective.Reference(x_train);
  const torch::Tensor ref_held = objective.Reference(x_held);

  const TranslatorTensors initial = TranslatorTensors::From(bundle.translator, false);
  TranslatorTensors params = TranslatorTensors::From(bundle.translator, true);
  if (options.init_mean_alignment) {
    params.b2.add_(objective.target_mean() - params.Forward(x_train).mean(0));
  }
  // The probes are made once, through the starting translator.
  const torch::Tensor probes_train = objective.Probes(params, x_train);
  const torch::Tensor probes_held = objective.Probes(params, x_held);
  const std::vector<torch::Tensor> theta0 = initial.Parameters();
  torch::optim::Adam optimizer(params.Parameters(),
                               torch::optim::AdamOptions(options.learning_rate));

  AdaptReport report;
  report.train_count = static_cast<int>(split.train.size());
  report.holdout_count = holdout;
  double best = objective.Loss(params, x_held, ref_held, probes_held);
  TranslatorTensors best_params = params.Clone();
  int since_best = 0;
  const int rows = report.train_count;
  const int batch = options.batch_size > 0 ? std::min(options.batch_size, rows) : rows;
  ShuffledCycle batches(rows);
  // Each step's probes come from `probe_rows` training rows, taken in turn
  // from their own shuffled order: all C-1 probes of every row would cost
  // C-1 times the step's other work.
  const int probe_rows = options.probe_rows > 0 ? std::min(options.probe_rows, rows) : rows;
  ShuffledCycle probe_sampler(rows);

  for (int step = 1; step <= options.max_steps; ++step) {
    if (options.cancelled && options.cancelled()) {
      return absl::CancelledError(absl::StrCat("adaptation cancelled at step ", step));
    }
    torch::Tensor x = x_train;
    torch::Tensor ref = ref_train;
    const torch::Tensor probes = Rows(probes_train, probe_sampler.Take(probe_rows, rng));
    if (batch < rows) {
      const std::vector<int64_t> pick = batches.Take(batch, rng);
      x = Rows(x_train, pick);
      ref = Rows(ref_train, pick);
    }
    const AdaptLosses losses =
        TakeStep(objective, options, params, theta0, optimizer, x, ref, probes);
    report.steps = step;
    report.final_train = losses;
    if (options.progress) options.progress({step, options.max_steps, losses});
    if (step % options.eval_every == 0 || step == options.max_steps) {
      const double h = objective.Loss(params, x_held, ref_held, probes_held);
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
  const torch::Tensor before = objective.LogProbabilities(initial, x_held);
  const torch::Tensor after = objective.LogProbabilities(best_params, x_held);
  report.neutral_rate_before = objective.NeutralRate(before);
  report.neutral_rate_after = objective.NeutralRate(after);
  report.mean_kl_to_generic = (after.exp() * (after - before)).sum(1).mean().item<double>();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return AdaptResult{best_params.ToTranslator(), report};
}

}  // namespace fer::pft
