#include "lib/pft/pretraining.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/model/status_macros.h"
#include "lib/pft/pft_losses.h"
#include "lib/pft/translator_tensors.h"

namespace fer::pft {
namespace {

// One subject's data as tensors.
struct SubjectTensors {
  torch::Tensor features;          // [N, D]
  torch::Tensor labels;            // [N] int64
  torch::Tensor source_log_probs;  // [N, C] log softmax head(f), constant
  torch::Tensor mean;              // [D]
  torch::Tensor cov;               // [D, D]
};

// Neutral statistics across subjects: pooled mean, count-weighted average of
// within-subject covariances. `neutral[s]` holds subject s's neutral rows.
absl::StatusOr<FeatureStats> NeutralStats(const std::vector<torch::Tensor>& neutral, int dim) {
  torch::Tensor sum = torch::zeros({dim}, torch::kFloat64);
  torch::Tensor cov = torch::zeros({dim, dim}, torch::kFloat64);
  int64_t count = 0;
  int64_t cov_weight = 0;
  for (const torch::Tensor& x : neutral) {
    const int64_t n = x.size(0);
    if (n == 0) continue;
    const torch::Tensor x64 = x.to(torch::kFloat64);
    sum += x64.sum(0);
    count += n;
    if (n >= 2) {
      cov += Covariance(x64) * static_cast<double>(n);
      cov_weight += n;
    }
  }
  if (count < 2 || cov_weight == 0) {
    return absl::FailedPreconditionError(
        "pre-training needs 2+ neutral-labelled frames in at least one source subject");
  }
  const torch::Tensor mean = (sum / static_cast<double>(count)).to(torch::kFloat32).contiguous();
  cov = (cov / static_cast<double>(cov_weight)).to(torch::kFloat32).contiguous();
  FeatureStats stats;
  stats.dim = dim;
  stats.count = count;
  stats.mean.assign(mean.data_ptr<float>(), mean.data_ptr<float>() + dim);
  stats.covariance.assign(cov.data_ptr<float>(), cov.data_ptr<float>() + cov.numel());
  return stats;
}

std::string StyleLossName(StyleLoss loss) { return loss == StyleLoss::kMmd ? "mmd" : "moments"; }

// Each subject's data as tensors, with the head's log-probabilities on it and
// its moments.
std::vector<SubjectTensors> SubjectData(const std::vector<SourceSubject>& subjects,
                                        const HeadTensors& head, int dim) {
  std::vector<SubjectTensors> data;
  for (const SourceSubject& s : subjects) {
    SubjectTensors t;
    t.features = FeaturesTensor(s.features, s.count, dim);
    t.labels = torch::tensor(std::vector<int64_t>(s.labels.begin(), s.labels.end()), torch::kInt64);
    t.source_log_probs = torch::log_softmax(head.Logits(t.features), 1);
    t.mean = t.features.mean(0);
    t.cov = s.count >= 2 ? Covariance(t.features) : torch::zeros({dim, dim});
    data.push_back(std::move(t));
  }
  return data;
}

// One subject's rows in one mini-batch.
struct SubjectBatch {
  int subject;
  std::vector<int64_t> rows;
};

// An epoch's mini-batches: every subject's rows shuffled and cut into batches
// of `batch_size` (a covariance needs two rows, so a last single row is left
// out), then the subjects' batches interleaved in a shuffled order.
std::vector<SubjectBatch> EpochBatches(const std::vector<SourceSubject>& subjects, int batch_size,
                                       std::mt19937_64& rng) {
  std::vector<SubjectBatch> batches;
  for (int s = 0; s < static_cast<int>(subjects.size()); ++s) {
    std::vector<int64_t> rows(subjects[s].count);
    std::iota(rows.begin(), rows.end(), 0);
    std::shuffle(rows.begin(), rows.end(), rng);
    for (size_t start = 0; start < rows.size(); start += batch_size) {
      const size_t end = std::min(rows.size(), start + batch_size);
      if (end - start < 2) continue;
      batches.push_back({s, std::vector<int64_t>(rows.begin() + start, rows.begin() + end)});
    }
  }
  std::shuffle(batches.begin(), batches.end(), rng);
  return batches;
}

// One optimizer step on `own`'s rows: the head's cross-entropy on the
// translated features, the KL to its prediction on the untranslated ones,
// and the style loss towards the partner `other` (moments, or an RBF MMD
// against as many of its rows drawn at random). Gives the batch's losses.
PretrainLosses TrainOnBatch(const TranslatorTensors& params, torch::optim::Adam& optimizer,
                            const HeadTensors& head, const SubjectTensors& own,
                            const SubjectTensors& other, const std::vector<int64_t>& rows,
                            const PretrainOptions& options, std::mt19937_64& rng) {
  torch::AutoGradMode enable_grad(true);
  const torch::Tensor x = Rows(own.features, rows);
  const torch::Tensor translated = params.Forward(x);
  const torch::Tensor logits = head.Logits(translated);
  const torch::Tensor ce = CrossEntropy(logits, Rows(own.labels, rows));
  const torch::Tensor kl = ConsistencyKl(logits, Rows(own.source_log_probs, rows));
  torch::Tensor style;
  if (options.style_loss == StyleLoss::kMmd) {
    const uint64_t other_count = static_cast<uint64_t>(other.features.size(0));
    std::vector<int64_t> other_rows(rows.size());
    for (int64_t& r : other_rows) r = static_cast<int64_t>(rng() % other_count);
    style = RbfMmd(translated, Rows(other.features, other_rows));
  } else {
    style = MomentAlignment(translated, other.mean, other.cov);
  }
  const torch::Tensor loss = options.cross_entropy_weight * ce + options.consistency_weight * kl +
                             options.style_weight * style;
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
  return {loss.item<double>(), ce.item<double>(), kl.item<double>(), style.item<double>()};
}

// The bundle's record of how it was trained.
std::map<std::string, std::string> TrainingConfig(const std::vector<SourceSubject>& subjects,
                                                  const std::vector<int>& partner,
                                                  const PretrainOptions& options,
                                                  const PretrainLosses& last_epoch) {
  std::vector<std::string> pairs;
  for (size_t s = 0; s < subjects.size(); ++s) {
    pairs.push_back(absl::StrCat(subjects[s].id, "->", subjects[partner[s]].id));
  }
  return {
      {"pairing", PairingStrategyName(options.pairing.strategy)},
      {"pairs", absl::StrJoin(pairs, ",")},
      {"style_loss", StyleLossName(options.style_loss)},
      {"hidden", absl::StrCat(options.hidden)},
      {"learning_rate", absl::StrCat(options.learning_rate)},
      {"batch_size", absl::StrCat(options.batch_size)},
      {"epochs", absl::StrCat(options.epochs)},
      {"cross_entropy_weight", absl::StrCat(options.cross_entropy_weight)},
      {"consistency_weight", absl::StrCat(options.consistency_weight)},
      {"style_weight", absl::StrCat(options.style_weight)},
      {"seed", absl::StrCat(options.seed)},
      {"subjects", absl::StrCat(subjects.size())},
      {"final_loss", absl::StrCat(last_epoch.total)},
      {"final_cross_entropy", absl::StrCat(last_epoch.cross_entropy)},
      {"final_consistency", absl::StrCat(last_epoch.consistency)},
      {"final_style", absl::StrCat(last_epoch.style)},
  };
}

}  // namespace

absl::StatusOr<ModelBundle> Pretrain(const std::vector<SourceSubject>& subjects,
                                     const LinearHead& head, const PretrainOptions& options) {
  FER_RETURN_IF_ERROR(head.Validate());
  const int dim = head.feature_dim();
  for (const SourceSubject& s : subjects) FER_RETURN_IF_ERROR(s.Validate(dim, head.num_classes()));
  if (options.batch_size < 2 || options.epochs < 0 || options.learning_rate <= 0) {
    return absl::InvalidArgumentError("pre-training needs batch_size >= 2, epochs >= 0, lr > 0");
  }
  FER_ASSIGN_OR_RETURN(const int neutral, head.LabelIndex(options.neutral_label));
  FER_ASSIGN_OR_RETURN(const std::vector<int> partner,
                       PairSubjects(subjects, dim, options.pairing));

  torch::NoGradGuard setup_no_grad;
  const HeadTensors head_t = HeadTensors::From(head);
  const std::vector<SubjectTensors> data = SubjectData(subjects, head_t, dim);
  FER_ASSIGN_OR_RETURN(const Translator initial,
                       Translator::Create(dim, options.hidden, options.seed));
  TranslatorTensors params = TranslatorTensors::From(initial, /*requires_grad=*/true);
  torch::optim::Adam optimizer(params.Parameters(),
                               torch::optim::AdamOptions(options.learning_rate));
  std::mt19937_64 rng(options.seed ^ 0x9E3779B97F4A7C15ull);

  PretrainLosses last_epoch;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const std::vector<SubjectBatch> batches = EpochBatches(subjects, options.batch_size, rng);
    PretrainLosses sum;
    for (const SubjectBatch& batch : batches) {
      const PretrainLosses b = TrainOnBatch(params, optimizer, head_t, data[batch.subject],
                                            data[partner[batch.subject]], batch.rows, options, rng);
      sum.total += b.total;
      sum.cross_entropy += b.cross_entropy;
      sum.consistency += b.consistency;
      sum.style += b.style;
    }
    const double n = std::max<size_t>(1, batches.size());
    last_epoch = {sum.total / n, sum.cross_entropy / n, sum.consistency / n, sum.style / n};
    if (options.progress) options.progress({epoch, options.epochs, last_epoch});
  }

  // The sources' neutral statistics, raw and through the translator.
  ModelBundle bundle{params.ToTranslator()};
  std::vector<torch::Tensor> neutral_raw;
  std::vector<torch::Tensor> neutral_translated;
  for (const SubjectTensors& subject : data) {
    const torch::Tensor rows = (subject.labels == neutral).nonzero().flatten();
    const torch::Tensor x = subject.features.index_select(0, rows);
    neutral_raw.push_back(x);
    neutral_translated.push_back(params.Forward(x));
  }
  FER_ASSIGN_OR_RETURN(bundle.source_neutral, NeutralStats(neutral_raw, dim));
  FER_ASSIGN_OR_RETURN(bundle.source_neutral_translated, NeutralStats(neutral_translated, dim));
  bundle.backbone_id = options.backbone_id;
  bundle.feature_dim = dim;
  bundle.labels = head.labels;
  bundle.neutral_index = neutral;
  bundle.training_config = TrainingConfig(subjects, partner, options, last_epoch);
  return bundle;
}

}  // namespace fer::pft
