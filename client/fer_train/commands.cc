#include "client/fer_train/commands.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "lib/files/file_contents.h"
#include "lib/model/backbone_face_analyzer.h"
#include "lib/model/face_analyzer.h"
#include "lib/model/status_macros.h"
#include "lib/model/weight_map.h"
#include "lib/pft/adaptation.h"
#include "lib/pft/face_dataset.h"
#include "lib/pft/linear_head.h"
#include "lib/pft/model_bundle_codec.h"
#include "lib/pft/pretraining.h"
#include "lib/pft/source_free_eval.h"
#include "lib/pft/translator_codec.h"
#include "lib/vision/image_file.h"
#include "lib/vision/video_reader.h"

// Dataset and backbone.
ABSL_FLAG(std::string, model_dir, FERSERVE_ASSETS_DIR "/face-api/model",
          "face-api's model folder (the backbone).");
ABSL_FLAG(std::string, detector, "ssd_mobilenetv1",
          "Face detector: ssd_mobilenetv1 or "
          "tiny_face_detector.");
ABSL_FLAG(std::string, backbone_model, "",
          "Model config JSON of a TorchScript frame or clip backbone (as ferserve "
          "--backbone_model): bundles and translators are then trained on its features. "
          "Empty: face-api's expression net.");
ABSL_FLAG(std::string, root, "",
          "Dataset root: ROOT/<subject>/<label>/<frame>.jpg|png and/or "
          "ROOT/<subject>/<video>.mp4.");
ABSL_FLAG(std::string, segments, "", "CSV of labelled video segments (video,start_s,end_s,label).");
ABSL_FLAG(std::string, cache, "", "Feature cache file (default ROOT/.fer-train-features.fpc).");
ABSL_FLAG(double, fps, 5, "Video frames sampled per second of labelled segment.");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads (0: its default).");
ABSL_FLAG(std::string, exclude_subject, "", "Leave this subject out of pre-training.");

// Pre-training.
ABSL_FLAG(std::string, out, "", "pretrain: where to write the model bundle.");
ABSL_FLAG(std::string, pairing, "landmark", "Subject pairing: landmark, embedding or random.");
ABSL_FLAG(std::string, style_loss, "moments", "Style loss: moments (mean + covariance) or mmd.");
ABSL_FLAG(double, ce_weight, 1.0, "Weight of the cross-entropy term.");
ABSL_FLAG(double, consistency_weight, 1.0, "Weight of the expression-consistency term.");
ABSL_FLAG(double, style_weight, 0.1, "Weight of the style-alignment term.");
ABSL_FLAG(int, epochs, 25, "Pre-training epochs.");
ABSL_FLAG(double, lr, 1e-3, "Pre-training learning rate (Adam).");
ABSL_FLAG(int, batch, 32, "Pre-training mini-batch size.");
ABSL_FLAG(int, hidden, 512, "Translator hidden width.");
ABSL_FLAG(uint64_t, seed, 0, "Seed of pre-training, pairing and adaptation.");

// Adaptation.
ABSL_FLAG(std::string, bundle, "", "adapt, info: the model bundle.");
ABSL_FLAG(std::string, neutral, "",
          "adapt: the user's neutral frames, a video or a folder of "
          "images.");
ABSL_FLAG(double, start_s, 0, "adapt --neutral VIDEO: first second of the neutral stretch.");
ABSL_FLAG(double, end_s, -1, "adapt --neutral VIDEO: end of the neutral stretch (-1: the end).");
ABSL_FLAG(std::string, subject, "",
          "adapt: a dataset subject to enroll (its first --adapt_frames "
          "neutral frames) and test on its other labelled frames.");
ABSL_FLAG(int, adapt_frames, 50, "adapt --subject, eval: neutral frames used for enrollment.");
ABSL_FLAG(double, adapt_lr, 1e-3, "Adaptation learning rate (Adam).");
ABSL_FLAG(int, adapt_steps, 40, "Adaptation step budget.");
ABSL_FLAG(double, adapt_preservation_weight, fer::pft::AdaptOptions{}.preservation_weight,
          "Adaptation: weight of the expression-probe term (0 turns it off).");
ABSL_FLAG(double, adapt_probe_margin, fer::pft::AdaptOptions{}.probe_margin,
          "Adaptation: logits by which each expression probe leads neutral.");
ABSL_FLAG(bool, adapt_align_covariance, false,
          "Adaptation: align covariances as well as means to the bundle's.");
ABSL_FLAG(int, adapt_threads, 1, "Adaptation: LibTorch intra-op threads (0: --threads).");
ABSL_FLAG(std::string, translator_out, "", "adapt: where to write the adapted translator (FPFT).");

// Evaluation.
ABSL_FLAG(std::string, pairings, "landmark,embedding,random", "eval: PFT pairing strategies.");
ABSL_FLAG(std::string, markdown_out, "", "eval: also write the Markdown table here.");
ABSL_FLAG(std::string, csv_out, "", "eval: also write the CSV here.");

namespace fer::train {
namespace {

namespace fs = std::filesystem;
using pft::FaceSample;
using pft::FeatureCache;
using pft::LinearHead;
using pft::ModelBundle;

CommandResult Usage(const std::string& message) {
  return {absl::InvalidArgumentError(message), true};
}
CommandResult Done(absl::Status status) { return {std::move(status), false}; }

void Print(const std::string& line) { std::printf("%s\n", line.c_str()); }

void ApplyThreads() {
  if (absl::GetFlag(FLAGS_threads) > 0) at::set_num_threads(absl::GetFlag(FLAGS_threads));
}

struct Backbone {
  std::unique_ptr<FaceAnalyzer> analyzer;
  LinearHead head;
  int neutral_index = 0;
};

absl::StatusOr<Backbone> LoadBackbone() {
  FaceAnalyzerConfig config;
  config.model_dir = absl::GetFlag(FLAGS_model_dir);
  config.detector = absl::GetFlag(FLAGS_detector);
  Backbone b;
  if (const std::string model = absl::GetFlag(FLAGS_backbone_model); model.empty()) {
    FER_ASSIGN_OR_RETURN(b.analyzer, FaceAnalyzer::Load(config));
  } else {
    FER_ASSIGN_OR_RETURN(b.analyzer, BackboneFaceAnalyzer::Load(config, model));
  }
  FER_ASSIGN_OR_RETURN(
      b.head, pft::LinearHeadFromLayer(b.analyzer->ExpressionHead(), b.analyzer->labels()));
  FER_ASSIGN_OR_RETURN(b.neutral_index, b.head.LabelIndex("neutral"));
  return b;
}

// The dataset's faces, extracted or taken from the cache.
absl::StatusOr<FeatureCache> LoadDataset(FaceAnalyzer& analyzer) {
  const std::string root = absl::GetFlag(FLAGS_root);
  std::vector<pft::LabelledSegment> segments;
  if (!absl::GetFlag(FLAGS_segments).empty()) {
    FER_ASSIGN_OR_RETURN(segments, pft::ReadSegmentLabelsFile(absl::GetFlag(FLAGS_segments)));
  }
  FER_ASSIGN_OR_RETURN(const pft::FaceDataset dataset, pft::ScanFaceDataset(root, segments));
  for (const std::string& video : dataset.unlabelled_videos) {
    Print(absl::StrCat("note: ", video, " has no labelled segment; not used"));
  }
  if (dataset.files.empty()) {
    return absl::NotFoundError(absl::StrCat("no labelled frames or videos under ", root));
  }
  pft::ExtractOptions options;
  options.sample_fps = absl::GetFlag(FLAGS_fps);
  options.cache_path = absl::GetFlag(FLAGS_cache).empty()
                           ? (fs::path(root) / ".fer-train-features.fpc").string()
                           : absl::GetFlag(FLAGS_cache);
  options.log = Print;
  pft::ExtractSummary summary;
  FER_ASSIGN_OR_RETURN(FeatureCache cache,
                       pft::ExtractFaceDataset(dataset, analyzer, options, &summary));
  Print(absl::StrFormat(
      "dataset %s: %d files (%d from the cache %s, %d extracted), %d frames, %d without a face "
      "(skipped), %d faces, %.1f s",
      root, summary.files_from_cache + summary.files_extracted, summary.files_from_cache,
      options.cache_path, summary.files_extracted, summary.frames, summary.frames_without_face,
      summary.faces, summary.seconds));
  return cache;
}

absl::StatusOr<std::vector<pft::SourceSubject>> Subjects(const FeatureCache& cache,
                                                         const LinearHead& head,
                                                         const std::string& exclude) {
  FER_ASSIGN_OR_RETURN(std::vector<pft::SourceSubject> all,
                       pft::GroupBySubject(cache, head.labels));
  std::vector<pft::SourceSubject> kept;
  for (pft::SourceSubject& s : all) {
    if (s.id != exclude) kept.push_back(std::move(s));
  }
  if (!exclude.empty() && kept.size() == all.size()) {
    return absl::NotFoundError(absl::StrCat("--exclude_subject: no subject ", exclude));
  }
  return kept;
}

absl::StatusOr<pft::PretrainOptions> PretrainFlags(const std::string& backbone_id) {
  pft::PretrainOptions options;
  FER_ASSIGN_OR_RETURN(options.pairing.strategy,
                       pft::ParsePairingStrategy(absl::GetFlag(FLAGS_pairing)));
  const std::string style = absl::GetFlag(FLAGS_style_loss);
  if (style == "moments") {
    options.style_loss = pft::StyleLoss::kMoments;
  } else if (style == "mmd") {
    options.style_loss = pft::StyleLoss::kMmd;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown --style_loss '", style, "' (moments, mmd)"));
  }
  options.cross_entropy_weight = absl::GetFlag(FLAGS_ce_weight);
  options.consistency_weight = absl::GetFlag(FLAGS_consistency_weight);
  options.style_weight = absl::GetFlag(FLAGS_style_weight);
  options.epochs = absl::GetFlag(FLAGS_epochs);
  options.learning_rate = absl::GetFlag(FLAGS_lr);
  options.batch_size = absl::GetFlag(FLAGS_batch);
  options.hidden = absl::GetFlag(FLAGS_hidden);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.pairing.seed = options.seed;
  options.backbone_id = backbone_id;
  if (options.epochs < 1 || options.batch_size < 1 || options.hidden < 1 ||
      !(options.learning_rate > 0)) {
    return absl::InvalidArgumentError("--epochs, --batch, --hidden and --lr must be positive");
  }
  return options;
}

pft::AdaptOptions AdaptFlags() {
  pft::AdaptOptions options;
  options.learning_rate = absl::GetFlag(FLAGS_adapt_lr);
  options.max_steps = absl::GetFlag(FLAGS_adapt_steps);
  options.preservation_weight = absl::GetFlag(FLAGS_adapt_preservation_weight);
  options.probe_margin = absl::GetFlag(FLAGS_adapt_probe_margin);
  options.align_covariance = absl::GetFlag(FLAGS_adapt_align_covariance);
  options.threads = absl::GetFlag(FLAGS_adapt_threads);
  options.seed = absl::GetFlag(FLAGS_seed);
  return options;
}

std::string Histogram(const std::vector<std::string>& labels, const std::vector<int>& counts) {
  std::string out;
  for (size_t c = 0; c < labels.size(); ++c) {
    if (counts[c] > 0) absl::StrAppend(&out, out.empty() ? "" : " ", labels[c], "=", counts[c]);
  }
  return out;
}

// What adapt trains on and, for a dataset subject, tests on.
struct AdaptData {
  std::vector<float> enroll;  // enrolled neutral features, row after row
  int enroll_count = 0;
  std::vector<float> test;  // the subject's other faces (none for --neutral)
  std::vector<int> test_labels;
};

// --neutral: the user's neutral features from a video stretch or a folder
// of images, all enrolled.
absl::StatusOr<AdaptData> NeutralRecordingData(FaceAnalyzer& analyzer) {
  const std::string path = absl::GetFlag(FLAGS_neutral);
  std::vector<float> features;
  int frames = 0, without_face = 0;
  auto add = [&](const RgbImage& image) -> absl::Status {
    ++frames;
    absl::StatusOr<FaceSample> face = pft::AnalyzeLargestFace(analyzer, image, {});
    if (absl::IsNotFound(face.status())) {
      ++without_face;
      return absl::OkStatus();
    }
    FER_RETURN_IF_ERROR(face.status());
    features.insert(features.end(), face->features.begin(), face->features.end());
    return absl::OkStatus();
  };
  if (fs::is_directory(path)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(path)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      const std::string ext = f.extension().string();
      if (ext != ".jpg" && ext != ".jpeg" && ext != ".png") continue;
      FER_ASSIGN_OR_RETURN(const RgbImage image, ReadImageFile(f.string()));
      FER_RETURN_IF_ERROR(add(image));
    }
  } else {
    FER_ASSIGN_OR_RETURN(std::unique_ptr<VideoReader> reader, VideoReader::Open(path));
    pft::LabelledSegment segment;
    segment.start_s = absl::GetFlag(FLAGS_start_s);
    segment.end_s = absl::GetFlag(FLAGS_end_s) < 0 ? 1e9 : absl::GetFlag(FLAGS_end_s);
    segment.label = "neutral";
    for (const pft::SampledFrame& f :
         pft::SampleSegments({segment}, absl::GetFlag(FLAGS_fps), reader->fps())) {
      if (!reader->Skip(static_cast<int>(f.index - reader->position()))) break;
      absl::StatusOr<RgbImage> image = reader->Next();
      if (!image.ok()) break;
      FER_RETURN_IF_ERROR(add(*image));
    }
  }
  Print(absl::StrFormat("%s: %d frames, %d without a face (skipped)", path, frames, without_face));
  AdaptData data;
  data.enroll_count = static_cast<int>(features.size() / analyzer.feature_dim());
  data.enroll = std::move(features);
  return data;
}

void PrintAdaptReport(const pft::AdaptReport& r) {
  Print(absl::StrFormat(
      "adapt: %d train + %d held-out neutral features, %d steps (best %d%s), %.3f s", r.train_count,
      r.holdout_count, r.steps, r.best_step, r.early_stopped ? ", stopped early" : "", r.seconds));
  Print(absl::StrFormat("held-out neutral rate: before %.3f, after %.3f; mean KL to generic %.4f",
                        r.neutral_rate_before, r.neutral_rate_after, r.mean_kl_to_generic));
}

// Per label of the subject's test frames: share predicted neutral and the
// most frequent prediction, for `features` as given.
void PrintPerLabel(const std::string& title, const LinearHead& head, int neutral_index,
                   const std::vector<float>& features, const std::vector<int>& labels) {
  const int n = static_cast<int>(labels.size());
  const int k = head.num_classes();
  const std::vector<float> p = *head.Probabilities(features, n);
  std::map<int, std::vector<int>> predictions;  // true label -> counts per predicted class
  for (int i = 0; i < n; ++i) {
    const auto row = p.begin() + static_cast<size_t>(i) * k;
    const int best = static_cast<int>(std::max_element(row, row + k) - row);
    auto& counts = predictions[labels[i]];
    counts.resize(k, 0);
    counts[best]++;
  }
  for (const auto& [label, counts] : predictions) {
    int total = 0;
    for (int c : counts) total += c;
    const int top =
        static_cast<int>(std::max_element(counts.begin(), counts.end()) - counts.begin());
    Print(absl::StrFormat(
        "  %-8s %-9s n=%-4d neutral %.3f, %s %.3f, top %s (%.3f)  [%s]", title, head.labels[label],
        total, static_cast<double>(counts[neutral_index]) / total, head.labels[label],
        static_cast<double>(counts[label]) / total, head.labels[top],
        static_cast<double>(counts[top]) / total, Histogram(head.labels, counts)));
  }
}

}  // namespace

CommandResult Extract() {
  if (absl::GetFlag(FLAGS_root).empty()) return Usage("--root is required");
  ApplyThreads();
  absl::StatusOr<Backbone> backbone = LoadBackbone();
  if (!backbone.ok()) return Done(backbone.status());
  absl::StatusOr<FeatureCache> cache = LoadDataset(*backbone->analyzer);
  if (!cache.ok()) return Done(cache.status());
  std::map<std::string, std::map<std::string, int>> counts;
  for (const auto& source : cache->sources) {
    for (const FaceSample& f : source.faces) counts[f.subject][f.label]++;
  }
  for (const auto& [subject, labels] : counts) {
    std::string line = absl::StrCat("  ", subject, ":");
    for (const auto& [label, n] : labels) absl::StrAppend(&line, " ", label, "=", n);
    Print(line);
  }
  return {};
}

CommandResult PretrainBundle() {
  if (absl::GetFlag(FLAGS_root).empty()) return Usage("--root is required");
  if (absl::GetFlag(FLAGS_out).empty()) return Usage("--out (the bundle to write) is required");
  ApplyThreads();
  absl::StatusOr<Backbone> backbone = LoadBackbone();
  if (!backbone.ok()) return Done(backbone.status());
  absl::StatusOr<pft::PretrainOptions> options = PretrainFlags(backbone->analyzer->backbone_id());
  if (!options.ok()) return Usage(std::string(options.status().message()));
  absl::StatusOr<FeatureCache> cache = LoadDataset(*backbone->analyzer);
  if (!cache.ok()) return Done(cache.status());
  absl::StatusOr<std::vector<pft::SourceSubject>> subjects =
      Subjects(*cache, backbone->head, absl::GetFlag(FLAGS_exclude_subject));
  if (!subjects.ok()) return Done(subjects.status());
  for (const pft::SourceSubject& s : *subjects) {
    std::vector<int> counts(backbone->head.num_classes(), 0);
    for (int l : s.labels) counts[l]++;
    Print(absl::StrFormat("subject %s: %d faces (%s)", s.id, s.count,
                          Histogram(backbone->head.labels, counts)));
  }
  options->progress = [](const pft::PretrainProgress& p) {
    Print(absl::StrFormat("epoch %d/%d: total %.4f ce %.4f consistency %.4f style %.4f", p.epoch,
                          p.epochs, p.mean.total, p.mean.cross_entropy, p.mean.consistency,
                          p.mean.style));
  };
  absl::StatusOr<ModelBundle> bundle = pft::Pretrain(*subjects, backbone->head, *options);
  if (!bundle.ok()) return Done(bundle.status());
  bundle->training_config["dataset_root"] = absl::GetFlag(FLAGS_root);
  bundle->training_config["segments"] = absl::GetFlag(FLAGS_segments);
  bundle->training_config["sample_fps"] = absl::StrCat(absl::GetFlag(FLAGS_fps));
  bundle->training_config["detector"] = absl::GetFlag(FLAGS_detector);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (fs::path(out).has_parent_path()) fs::create_directories(fs::path(out).parent_path());
  if (absl::Status s = pft::WriteModelBundleFile(*bundle, out); !s.ok()) return Done(s);
  Print(absl::StrFormat("wrote %s: translator %d -> %d -> %d (%d parameters), backbone %s", out,
                        bundle->feature_dim, bundle->translator.hidden(), bundle->feature_dim,
                        bundle->translator.num_parameters(), bundle->backbone_id));
  return {};
}

// --subject: the subject's first --adapt_frames neutral faces are enrolled,
// its other faces kept for testing.
absl::StatusOr<AdaptData> DatasetSubjectData(const Backbone& backbone) {
  FER_ASSIGN_OR_RETURN(const FeatureCache cache, LoadDataset(*backbone.analyzer));
  FER_ASSIGN_OR_RETURN(const std::vector<pft::SourceSubject> all,
                       pft::GroupBySubject(cache, backbone.head.labels));
  const std::string subject = absl::GetFlag(FLAGS_subject);
  const auto it = std::find_if(all.begin(), all.end(),
                               [&](const pft::SourceSubject& s) { return s.id == subject; });
  if (it == all.end()) {
    return absl::NotFoundError(absl::StrCat("no subject ", subject, " in the dataset"));
  }
  const int dim = backbone.head.feature_dim();
  const int limit = absl::GetFlag(FLAGS_adapt_frames);
  AdaptData data;
  for (int i = 0; i < it->count; ++i) {
    const auto row = it->features.begin() + static_cast<size_t>(i) * dim;
    if (it->labels[i] == backbone.neutral_index && data.enroll_count < limit) {
      data.enroll.insert(data.enroll.end(), row, row + dim);
      ++data.enroll_count;
    } else {
      data.test.insert(data.test.end(), row, row + dim);
      data.test_labels.push_back(it->labels[i]);
    }
  }
  Print(absl::StrFormat("subject %s: enrolling its first %d neutral faces, testing on %d others",
                        subject, data.enroll_count, data.test_labels.size()));
  return data;
}

CommandResult AdaptUser() {
  if (absl::GetFlag(FLAGS_bundle).empty()) return Usage("--bundle is required");
  const bool from_dataset = !absl::GetFlag(FLAGS_subject).empty();
  if (from_dataset == !absl::GetFlag(FLAGS_neutral).empty()) {
    return Usage("give either --neutral (a video or image folder) or --subject with --root");
  }
  if (from_dataset && absl::GetFlag(FLAGS_root).empty()) {
    return Usage("--subject needs --root (and --segments for videos)");
  }
  ApplyThreads();
  absl::StatusOr<ModelBundle> bundle = pft::ReadModelBundleFile(absl::GetFlag(FLAGS_bundle));
  if (!bundle.ok()) return Done(bundle.status());
  absl::StatusOr<Backbone> backbone = LoadBackbone();
  if (!backbone.ok()) return Done(backbone.status());
  if (absl::Status fits = pft::CheckBundleFitsBackbone(*bundle, backbone->analyzer->backbone_id(),
                                                       backbone->analyzer->feature_dim(),
                                                       backbone->analyzer->labels());
      !fits.ok()) {
    return Done(fits);
  }
  absl::StatusOr<AdaptData> data =
      from_dataset ? DatasetSubjectData(*backbone) : NeutralRecordingData(*backbone->analyzer);
  if (!data.ok()) return Done(data.status());

  const LinearHead& head = backbone->head;
  absl::StatusOr<pft::AdaptResult> adapted =
      pft::Adapt(*bundle, head, data->enroll, data->enroll_count, AdaptFlags());
  if (!adapted.ok()) return Done(adapted.status());
  PrintAdaptReport(adapted->report);
  if (!data->test_labels.empty()) {
    const std::vector<float>& test = data->test;
    const std::vector<int>& labels = data->test_labels;
    const int n = static_cast<int>(labels.size());
    PrintPerLabel("generic", head, backbone->neutral_index, test, labels);
    PrintPerLabel("bundle", head, backbone->neutral_index, *bundle->translator.Forward(test, n),
                  labels);
    PrintPerLabel("adapted", head, backbone->neutral_index, *adapted->translator.Forward(test, n),
                  labels);
  }
  if (const std::string out = absl::GetFlag(FLAGS_translator_out); !out.empty()) {
    const absl::Status written =
        WriteFileAtomically(out, pft::EncodeTranslator(adapted->translator));
    if (!written.ok()) return Done(written);
    Print(absl::StrCat("wrote the adapted translator to ", out));
  }
  return {};
}

CommandResult Evaluate() {
  if (absl::GetFlag(FLAGS_root).empty()) return Usage("--root is required");
  ApplyThreads();
  absl::StatusOr<Backbone> backbone = LoadBackbone();
  if (!backbone.ok()) return Done(backbone.status());
  absl::StatusOr<pft::PretrainOptions> pretrain = PretrainFlags(backbone->analyzer->backbone_id());
  if (!pretrain.ok()) return Usage(std::string(pretrain.status().message()));
  pft::SourceFreeEvalOptions options;
  options.pretrain = *pretrain;
  options.adapt = AdaptFlags();
  options.adapt_frames = absl::GetFlag(FLAGS_adapt_frames);
  options.pairings.clear();
  for (absl::string_view name :
       absl::StrSplit(absl::GetFlag(FLAGS_pairings), ',', absl::SkipEmpty())) {
    absl::StatusOr<pft::PairingStrategy> p = pft::ParsePairingStrategy(name);
    if (!p.ok()) return Usage(std::string(p.status().message()));
    options.pairings.push_back(*p);
  }
  options.log = Print;
  absl::StatusOr<FeatureCache> cache = LoadDataset(*backbone->analyzer);
  if (!cache.ok()) return Done(cache.status());
  absl::StatusOr<std::vector<pft::SourceSubject>> subjects = Subjects(*cache, backbone->head, "");
  if (!subjects.ok()) return Done(subjects.status());
  absl::StatusOr<pft::SourceFreeEval> eval =
      pft::EvaluateSourceFree(*subjects, backbone->head, backbone->neutral_index, options);
  if (!eval.ok()) return Done(eval.status());
  const std::string markdown = eval->Markdown();
  std::printf("\n%s", markdown.c_str());
  for (const auto& [path, text] :
       {std::pair<std::string, std::string>{absl::GetFlag(FLAGS_markdown_out), markdown},
        {absl::GetFlag(FLAGS_csv_out), eval->Csv()}}) {
    if (path.empty()) continue;
    if (absl::Status s = WriteFileAtomically(path, text); !s.ok()) return Done(s);
    Print(absl::StrCat("wrote ", path));
  }
  return {};
}

struct ModelCost {
  int64_t parameters = 0;
  int64_t multiply_adds = 0;  // per input
};

// The face expression model's cost per 112x112 face, from its tensors: its
// convolutions run at 56, 28, 14 and 7 pixels (dense0..dense3), and a
// filter's multiply-adds are its size times the output pixels.
absl::StatusOr<ModelCost> ExpressionModelCost() {
  FER_ASSIGN_OR_RETURN(const WeightMap weights,
                       LoadFaceApiWeights(absl::GetFlag(FLAGS_model_dir), "face_expression_model"));
  ModelCost cost;
  for (const std::string& name : weights.names()) {
    const int64_t n = weights.Find(name)->numel();
    cost.parameters += n;
    if (name.find("bias") != std::string::npos) continue;
    int64_t pixels = 1;
    for (int d = 0; d < 4; ++d) {
      if (name.rfind(absl::StrCat("dense", d, "/"), 0) == 0) pixels = (56 >> d) * (56 >> d);
    }
    cost.multiply_adds += n * pixels;
  }
  return cost;
}

// `n` features drawn around the bundle's source neutral statistics (a
// fresh bundle's: around zero, unit variance), row after row.
std::vector<float> SyntheticNeutralFeatures(const ModelBundle& bundle, int n) {
  const int dim = bundle.translator.dim();
  const pft::FeatureStats& neutral = bundle.source_neutral;
  std::mt19937 rng(absl::GetFlag(FLAGS_seed));
  std::normal_distribution<float> normal;
  std::vector<float> features(static_cast<size_t>(n) * dim);
  for (int i = 0; i < n; ++i) {
    for (int d = 0; d < dim; ++d) {
      const float mean = neutral.mean.empty() ? 0.f : neutral.mean[d];
      const float var =
          neutral.covariance.empty() ? 1.f : neutral.covariance[static_cast<size_t>(d) * dim + d];
      features[static_cast<size_t>(i) * dim + d] = mean + std::sqrt(var) * normal(rng);
    }
  }
  return features;
}

// --bundle, or without it a fresh bundle around a translator of --hidden
// units (whose only error is a --hidden no translator can have).
absl::StatusOr<ModelBundle> InfoBundle() {
  if (!absl::GetFlag(FLAGS_bundle).empty()) {
    return pft::ReadModelBundleFile(absl::GetFlag(FLAGS_bundle));
  }
  FER_ASSIGN_OR_RETURN(pft::Translator fresh,
                       pft::Translator::Create(256, absl::GetFlag(FLAGS_hidden)));
  ModelBundle bundle{std::move(fresh)};
  bundle.feature_dim = 256;
  return bundle;
}

CommandResult Info() {
  ApplyThreads();
  absl::StatusOr<ModelCost> backbone_cost = ExpressionModelCost();
  if (!backbone_cost.ok()) return Done(backbone_cost.status());
  Print(absl::StrFormat(
      "backbone face_expression_model: %d parameters, %.1f M multiply-adds (%.3f GFLOP) per "
      "112x112 face",
      backbone_cost->parameters, backbone_cost->multiply_adds / 1e6,
      2 * backbone_cost->multiply_adds / 1e9));

  absl::StatusOr<ModelBundle> read = InfoBundle();
  if (!read.ok()) {
    if (absl::GetFlag(FLAGS_bundle).empty()) return Usage(std::string(read.status().message()));
    return Done(read.status());
  }
  ModelBundle& bundle = *read;
  const pft::Translator& t = bundle.translator;
  Print(absl::StrFormat(
      "translator %d -> %d -> %d: %d parameters, %.3f M multiply-adds (%.6f GFLOP) per feature, "
      "%.2f %% of the backbone's",
      t.dim(), t.hidden(), t.dim(), t.num_parameters(), t.macs_per_feature() / 1e6,
      2 * t.macs_per_feature() / 1e9, 100.0 * t.macs_per_feature() / backbone_cost->multiply_adds));

  // Adapt on 300 features around the bundle's source neutral statistics,
  // with the default options.
  constexpr int n = 300;
  const std::vector<float> features = SyntheticNeutralFeatures(bundle, n);
  absl::StatusOr<Backbone> backbone = LoadBackbone();
  if (!backbone.ok()) return Done(backbone.status());
  const LinearHead& head = backbone->head;
  if (bundle.source_neutral.dim == 0) {
    absl::StatusOr<pft::FeatureStats> stats = pft::ComputeFeatureStats(features, n, t.dim());
    if (!stats.ok()) return Done(stats.status());
    bundle.source_neutral = *stats;
    bundle.source_neutral_translated = *stats;
    bundle.labels = head.labels;
    bundle.neutral_index = backbone->neutral_index;
  }
  pft::AdaptOptions options = AdaptFlags();
  options.patience = 1000000;  // the whole step budget: the worst case
  absl::StatusOr<pft::AdaptResult> adapted = pft::Adapt(bundle, head, features, n, options);
  if (!adapted.ok()) return Done(adapted.status());
  Print(absl::StrFormat("Adapt on %d enrolled features: %d steps in %.3f s on %d thread(s)", n,
                        adapted->report.steps, adapted->report.seconds,
                        options.threads > 0 ? options.threads : at::get_num_threads()));
  return {};
}

}  // namespace fer::train
