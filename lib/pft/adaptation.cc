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

}  // namespace

absl::StatusOr<AdaptResult> Adapt(const ModelBundle& bundle, const LinearHead& head,
                                  const std::vector<float>& features, int count,
                                  const AdaptOptions& options) {
  const auto start = std::chrono::steady_clock::now();
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

  ScopedIntraOpThreads threads(options.threads);
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
  auto alignment = [&](const torch::Tensor& translated) {
    if (options.align_covariance) return MomentAlignment(translated, target_mean, target_cov);
    return MeanAlignment(translated, target_mean);
  };

  const TranslatorTensors initial = TranslatorTensors::From(bundle.translator, false);
  TranslatorTensors params = TranslatorTensors::From(bundle.translator, true);
  if (options.init_mean_alignment) {
    params.b2.add_(target_mean - params.Forward(x_train).mean(0));
  }
  // Expression probes: each neutral feature moved along each class's
  // direction d_c = (w_c - w_n) / |w_c - w_n|² until, through the starting
  // translator, the head puts class c `probe_margin` logits above neutral.
  // [rows, C-1, D] probes and their [C-1] classes.
  const int classes = head.num_classes();
  std::vector<int64_t> probe_class_list;
  std::vector<torch::Tensor> directions;
  for (int c = 0; c < classes; ++c) {
    if (c == neutral) continue;
    const torch::Tensor d = head_t.weight[c] - head_t.weight[neutral];
    directions.push_back(d / d.pow(2).sum().clamp_min(1e-12));
    probe_class_list.push_back(c);
  }
  const torch::Tensor probe_dirs = torch::stack(directions, 0);  // [C-1, D]
  const torch::Tensor probe_classes = torch::tensor(probe_class_list, torch::kInt64);
  auto make_probes = [&](const torch::Tensor& x) {
    const torch::Tensor logits = head_t.Logits(params.Forward(x));
    const torch::Tensor gap = options.probe_margin - (logits.index_select(1, probe_classes) -
                                                      logits.select(1, neutral).unsqueeze(1));
    return x.unsqueeze(1) + gap.unsqueeze(2) * probe_dirs.unsqueeze(0);
  };
  const torch::Tensor probes_train = make_probes(x_train);
  const torch::Tensor probes_held = make_probes(x_held);
  auto preservation = [&](const TranslatorTensors& t, const torch::Tensor& probes) {
    const int64_t n = probes.size(0), k = probes.size(1);
    const torch::Tensor logits = head_t.Logits(t.Forward(probes.reshape({n * k, dim})));
    return CrossEntropy(logits, probe_classes.repeat({n}));
  };

  const std::vector<torch::Tensor> theta = params.Parameters();
  const std::vector<torch::Tensor> theta0 = initial.Parameters();
  torch::optim::Adam optimizer(theta, torch::optim::AdamOptions(options.learning_rate));

  auto terms = [&](const TranslatorTensors& t, const torch::Tensor& x, const torch::Tensor& ref,
                   const torch::Tensor& probes) -> Terms {
    const torch::Tensor translated = t.Forward(x);  // once for all terms
    const torch::Tensor logits = head_t.Logits(translated);
    const torch::Tensor target = torch::full({x.size(0)}, neutral, torch::kInt64);
    return {CrossEntropy(logits, target), ConsistencyKl(logits, ref), alignment(translated),
            preservation(t, probes)};
  };
  auto held_loss = [&](const TranslatorTensors& t) {
    c10::InferenceMode inference;
    const Terms h = terms(t, x_held, ref_held, probes_held);
    return WeightedDataLoss(options, h.ce, h.kl, h.align, h.preserve).item<double>();
  };

  AdaptReport report;
  report.train_count = static_cast<int>(train.size());
  report.holdout_count = holdout;
  double best = held_loss(params);
  TranslatorTensors best_params = params.Clone();
  int since_best = 0;
  const int rows = static_cast<int>(train.size());
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
    AdaptLosses losses;
    {
      Terms t;
      {
        torch::AutoGradMode enable_grad(true);
        // One forward pass for all data terms; the anchor's gradient is
        // added in closed form below instead of through autograd.
        t = terms(params, x, ref, probes);
        optimizer.zero_grad();
        WeightedDataLoss(options, t.ce, t.kl, t.align, t.preserve).backward();
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
      const double c = t.ce.item<double>(), k = t.kl.item<double>(), a = t.align.item<double>(),
                   e = t.preserve.item<double>();
      losses = {WeightedDataLoss(options, c, k, a, e) + options.anchor_weight * anchor,
                c,
                k,
                a,
                anchor,
                e};
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
