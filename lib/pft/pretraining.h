#ifndef FERSERVE_LIB_PFT_PRETRAINING_H_
#define FERSERVE_LIB_PFT_PRETRAINING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/pft/linear_head.h"
#include "lib/pft/model_bundle.h"
#include "lib/pft/pairing.h"
#include "lib/pft/source_subject.h"

namespace fer::pft {

// How translated features are pulled to the paired subject's feature style.
enum class StyleLoss {
  kMoments,  // mean + covariance (pft_losses.h MomentAlignment)
  kMmd,      // RBF-kernel MMD against a batch of the partner's features
};

// Loss values of one step (or averaged over an epoch).
struct PretrainLosses {
  double total = 0;
  double cross_entropy = 0;
  double consistency = 0;
  double style = 0;
};

struct PretrainProgress {
  int epoch = 0;  // 1-based, completed
  int epochs = 0;
  PretrainLosses mean;  // averaged over the epoch's steps
};

struct PretrainOptions {
  PairingOptions pairing;
  int hidden = 512;  // translator width (Translator::kDefaultHidden)
  StyleLoss style_loss = StyleLoss::kMoments;
  double learning_rate = 1e-3;  // Adam
  int batch_size = 32;
  int epochs = 25;
  double cross_entropy_weight = 1.0;
  double consistency_weight = 1.0;
  double style_weight = 0.1;
  uint64_t seed = 0;
  std::string neutral_label = "neutral";
  std::string backbone_id;                                // recorded in the bundle
  std::function<void(const PretrainProgress&)> progress;  // after each epoch; may be empty
};

// PFT pre-training. Pairs the source subjects (options.pairing), then for
// `epochs` passes over every subject i, in mini-batches of its features f_i,
// trains the translator T (the head stays frozen) on
//
//   w_ce · CE(head(T(f_i)), labels_i)
//   + w_cons · KL(softmax head(T(f_i)) || softmax head(f_i))
//   + w_style · style(T(f_i), features of partner(i)),
//
// with gradients through T in every term. The bundle also gets the source
// neutral statistics (raw and translated) adaptation needs. Deterministic
// for a seed and thread count.
absl::StatusOr<ModelBundle> Pretrain(const std::vector<SourceSubject>& subjects,
                                     const LinearHead& head, const PretrainOptions& options);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_PRETRAINING_H_
