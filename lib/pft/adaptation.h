#ifndef FERSERVE_LIB_PFT_ADAPTATION_H_
#define FERSERVE_LIB_PFT_ADAPTATION_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/pft/linear_head.h"
#include "lib/pft/model_bundle.h"
#include "lib/pft/translator.h"

namespace fer::pft {

// Loss terms of adaptation (weighted as in AdaptOptions; `total` is the sum).
struct AdaptLosses {
  double total = 0;
  double cross_entropy = 0;  // towards neutral
  double consistency = 0;    // KL(head(T f) || head(f))
  double alignment = 0;      // translated neutral moments vs the bundle's
  double anchor = 0;         // squared distance of the anchored weights to the pre-trained ones
  double preservation = 0;   // CE of expression probes towards their classes
};

// Reported after every step, for the Adapt RPC's stream.
struct AdaptProgress {
  int step = 0;         // 1-based
  int total_steps = 0;  // the step budget (max_steps); fewer run when stopped early
  AdaptLosses train;    // unweighted terms, `total` weighted
};

struct AdaptOptions {
  double learning_rate = 1e-3;  // Adam
  // Early stopping ends every synthetic-benchmark run by step 40 (best weights
  // by step ~20), so a larger budget only costs time (100 steps on 300 x 256
  // features took 1.6-3 s on 2 cores).
  int max_steps = 40;
  // Rows per step; 0: the whole training split. Large enrollments train on
  // shuffled mini-batches (big enough for a usable covariance estimate);
  // small ones (<= batch_size rows) stay full-batch.
  int batch_size = 128;
  double cross_entropy_weight = 1.0;
  double consistency_weight = 0.2;
  double alignment_weight = 1.0;
  double anchor_weight = 1.0;
  // Expression preservation: every neutral feature is also moved along each
  // other class's head direction until the head, through the starting
  // translator, puts that class `probe_margin` logits above neutral; the
  // translator must keep classifying these probes as their classes. Neutral
  // frames alone say nothing about other expressions; the probes keep the
  // pull towards neutral from dragging the user's mild expressions along.
  double preservation_weight = 0.5;
  double probe_margin = 6.0;
  int probe_rows = 16;  // neutral rows whose probes enter each step; 0: all
  // Whether the alignment term also compares covariances. Off by default: a
  // user's covariance in the full feature space cannot be estimated from a
  // few dozen frames (256 dims, 40 frames), and matching it moved every
  // expression on real recordings.
  bool align_covariance = false;
  // LibTorch intra-op threads while adapting (0: the caller's setting). The
  // translator's layers are small: one thread runs them fastest, and more
  // only spin-wait against the inference threads of a busy server.
  int threads = 1;
  // Whether the anchor also holds the biases b1, b2. Off by default: a
  // change of b2 is a uniform translation of every feature, which moves all
  // expressions alike and cannot collapse them, so the user's offset is left
  // free while W1, W2 (and b1) stay near the pre-trained ones.
  bool anchor_biases = false;
  // Starts from the pre-trained translator with b2 moved by
  // mean(source neutral, translated) - mean(T0(user neutral)): the exact
  // minimiser of the alignment's mean term over b2, so that the user's offset
  // is removed from step 0 (Adam's small steps would need hundreds of steps
  // to travel that far) and the steps refine the rest.
  bool init_mean_alignment = true;
  // Share of the neutral features held out for early stopping (at least 2
  // rows are held out when there are 6+, none below).
  double holdout_fraction = 0.2;
  int eval_every = 5;  // steps between held-out evaluations
  int patience = 4;    // evaluations without improvement before stopping
  uint64_t seed = 0;
  std::function<void(const AdaptProgress&)> progress;  // may be empty
  // Asked before every step; adaptation ends with Cancelled when it answers
  // true (the caller went away). May be empty.
  std::function<bool()> cancelled;
};

struct AdaptReport {
  int train_count = 0;
  int holdout_count = 0;
  int steps = 0;  // steps run
  bool early_stopped = false;
  int best_step = 0;  // the step whose weights are returned (0: the pre-trained ones)
  // On the held-out neutral features (the training split when none is held
  // out): share classified neutral with the pre-trained translator (before)
  // and the adapted one (after), and the mean KL(adapted || pre-trained) of
  // the head's outputs.
  double neutral_rate_before = 0;
  double neutral_rate_after = 0;
  double mean_kl_to_generic = 0;
  double best_holdout_loss = 0;
  AdaptLosses final_train;  // last step's terms
  double seconds = 0;       // wall time of Adapt
};

struct AdaptResult {
  Translator translator;
  AdaptReport report;
};

// PFT adaptation from one user's neutral frames alone: starting from the
// bundle's translator T0, trains T (the head stays frozen) on
//
//   w_ce · CE(head(T f), neutral) + w_cons · KL(head(T f) || head(f))
//   + w_align · moments(T f  vs  bundle.source_neutral_translated)
//   + w_preserve · CE(head(T probes), their classes) + w_anchor · ||θ - θ0||²
//
// full-batch (or mini-batch) Adam, stopping early when the held-out data
// terms stop improving and returning the best weights seen. `features`:
// count x feature_dim neutral features (count >= 2). Cancelled when
// options.cancelled says so. Deterministic for a seed
// and thread count.
absl::StatusOr<AdaptResult> Adapt(const ModelBundle& bundle, const LinearHead& head,
                                  const std::vector<float>& features, int count,
                                  const AdaptOptions& options);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_ADAPTATION_H_
