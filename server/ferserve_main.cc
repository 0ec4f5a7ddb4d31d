// ferserve: the facial expression recognition gRPC server.
#include <fcntl.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/metrics/metrics_endpoint.h"
#include "lib/metrics/server_metrics.h"
#include "lib/model/backbone_face_analyzer.h"
#include "lib/model/blas_kernels.h"
#include "lib/model/face_analyzer.h"
#include "lib/model/intra_op_parallel.h"
#include "lib/model/torch_runtime.h"
#include "lib/pft/linear_head.h"
#include "lib/pft/model_bundle_codec.h"
#include "lib/serving/call_log.h"
#include "lib/serving/dynamic_batcher.h"
#include "lib/serving/inference_gate.h"
#include "lib/serving/model_warmup.h"
#include "lib/serving/store_resealer.h"
#include "lib/serving/stream_admission.h"
#include "lib/serving/stream_watchdog.h"
#include "lib/serving/tenant_tokens_file.h"
#include "lib/serving/translator_cache.h"
#include "lib/store/profile_store.h"
#include "lib/store/record_cipher.h"
#include "server/expression_service.h"
#include "server/tls_credentials.h"

ABSL_FLAG(std::string, host, "0.0.0.0", "Address to listen on for gRPC (IPv4/IPv6 literal).");
ABSL_FLAG(int, port, 50051, "gRPC port; 0 picks a free one (printed at start-up).");
ABSL_FLAG(int, metrics_port, 9464,
          "Port of the Prometheus endpoint (GET /metrics) on --host; 0 picks a free one (printed "
          "at start-up), -1 disables it.");
ABSL_FLAG(std::string, model_dir, FERSERVE_DEFAULT_MODEL_DIR,
          "Folder with face-api's weights (manifest JSON + .bin files), as fetched and verified "
          "by scripts/fetch_assets.");
ABSL_FLAG(std::string, detector, "ssd_mobilenetv1",
          "Face detector: ssd_mobilenetv1 (accurate) or tiny_face_detector (faster).");
ABSL_FLAG(std::string, backbone_model, "",
          "Model config JSON of a TorchScript frame or clip backbone (written by "
          "tools/export_torchscript.py beside model.pt) to serve instead of the embedded "
          "face-api expression network; face detection and landmarks stay face-api's. Empty: "
          "the embedded default.");
ABSL_FLAG(std::string, device, "cpu", "Where models run: cpu, cuda or cuda:N.");
ABSL_FLAG(int, threads, 0, "LibTorch intra-op threads; 0 uses all cores.");
ABSL_FLAG(std::string, cpu_kernels, "auto",
          "How face-api's networks run on the CPU: native (ferserve's fused kernels), libtorch "
          "(LibTorch's operators), or auto (the fused kernels where the CPU has AVX2 or "
          "AVX-512, the faster there; LibTorch's operators elsewhere).");
ABSL_FLAG(int, inference_concurrency, 0,
          "Model executions (a frame's detection and landmarks, or a backbone batch) allowed to "
          "run at once; frames beyond wait (queue stage). 0: as many as --threads (the CPU "
          "cores by default): alone, an execution splits its layers between all threads; side "
          "by side, each runs on its own.");
ABSL_FLAG(int, max_batch_size, 32,
          "Most faces, from any streams, that the backbone runs on in one batch.");
ABSL_FLAG(absl::Duration, max_batch_delay, absl::ZeroDuration(),
          "Longest time a frame's faces wait for a backbone batch to fill before it runs with "
          "what it has. 0: a batch takes what queued while the previous one ran (no added "
          "latency); on a GPU serving many streams, 1-5ms can fill larger batches.");
ABSL_FLAG(int, batch_queue_limit, 256,
          "Most faces waiting for a backbone batch; frames beyond are refused with "
          "RESOURCE_EXHAUSTED instead of queueing without bound.");
ABSL_FLAG(int, inference_threads, 1, "Threads executing backbone batches.");
ABSL_FLAG(bool, warmup, true,
          "Before the server listens, run every network once on a synthetic frame (the backbone "
          "at batch 1 and --max_batch_size), so that users' first requests do not pay the "
          "first executions' set-up (on a GPU: CUDA and cuDNN start-up) and a batch that does "
          "not fit in memory stops the start-up.");
ABSL_FLAG(int, grpc_threads, 0,
          "Most threads gRPC's synchronous server may use; each open stream holds one, so keep "
          "it above --max_concurrent_streams (calls beyond it are refused with "
          "RESOURCE_EXHAUSTED). 0: gRPC's default, unbounded.");
ABSL_FLAG(int, max_message_bytes, 16 << 20,
          "Largest accepted request message in bytes; larger ones get RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_image_side, 4096, "Largest accepted frame width or height, in pixels.");
ABSL_FLAG(int, max_concurrent_streams, 64,
          "Open StreamPredict calls allowed at once; more get RESOURCE_EXHAUSTED.");
ABSL_FLAG(absl::Duration, grace_period, absl::Seconds(10),
          "On SIGTERM/SIGINT: health turns NOT_SERVING, new streams are refused, and open ones "
          "get this long to finish before they are cancelled.");
ABSL_FLAG(int, clip_window, 16, "Default frames in the clip-level sliding window (1..300).");
ABSL_FLAG(float, min_face_score, 0.5f, "Default minimum face detector score (0..1).");
ABSL_FLAG(int, detection_interval, 1,
          "StreamPredict default: run the face detector on every n-th frame and track faces "
          "from their landmarks in between (1..30; 1 detects on every frame). Streams may ask "
          "for another interval.");
ABSL_FLAG(std::string, store, "rocksdb:///var/lib/ferserve/profiles",
          "Where users' profiles live: rocksdb:///absolute/path (embedded; the folder is created "
          "if missing) or redis://[[user]:password@]host[:port][/db] (shared by replicas; "
          "rediss:// for TLS; connects lazily).");
ABSL_FLAG(std::string, store_key_file, "",
          "File with the AES-256-GCM key (32 raw bytes or 64 hex characters) that encrypts "
          "stored profiles at rest. Without it or --store_key_env, profiles are stored "
          "unencrypted.");
ABSL_FLAG(std::string, store_key_env, "",
          "Name of an environment variable holding the AES-256-GCM key (64 hex characters); "
          "alternative to --store_key_file.");
ABSL_FLAG(std::vector<std::string>, store_previous_key_files, {},
          "Comma-separated files with older AES-256-GCM keys (as --store_key_file), for key "
          "rotation: records sealed with them still open; new records are sealed with the "
          "current key. --store_reseal moves the old records to the current key.");
ABSL_FLAG(bool, store_reseal, false,
          "After start-up, seal again in the background, with the current key, every stored "
          "record sealed with an older key (--store_previous_key_files) or not encrypted at all, "
          "then log the outcome (the store is read whole: run it for a rotation, not always).");
ABSL_FLAG(int, max_enrolled_features, 300,
          "Bound of each user's bank of enrolled neutral features; the oldest are evicted.");
ABSL_FLAG(float, enroll_min_face_px, 64,
          "EnrollNeutral: smallest accepted face box height in pixels (FACE_TOO_SMALL).");
ABSL_FLAG(double, enroll_min_sharpness, 20,
          "EnrollNeutral: smallest accepted variance of the Laplacian of the grayscale face "
          "crop (TOO_BLURRY).");
ABSL_FLAG(double, enroll_max_yaw, 0.35,
          "EnrollNeutral: largest accepted nose-tip offset from the eye midpoint, relative to "
          "the inter-ocular distance (HEAD_POSE_TOO_LARGE).");
ABSL_FLAG(double, enroll_max_roll_degrees, 20,
          "EnrollNeutral: largest accepted eye-line angle in degrees (HEAD_POSE_TOO_LARGE).");
ABSL_FLAG(double, enroll_min_neutral_probability, 0,
          "EnrollNeutral: smallest generic-model neutral probability of a kept frame "
          "(NOT_NEUTRAL below; 0..1). 0 keeps every frame that passes the other checks, with "
          "a warning below 0.5: a user whose neutral face the generic model reads as another "
          "expression is who personalization is for.");
ABSL_FLAG(std::string, pft_bundle, "",
          "PFT model bundle (written by fer-train pretrain; scripts/pft_bundle makes the default "
          "one) that Adapt starts from. Without it Adapt answers FAILED_PRECONDITION; users "
          "adapted earlier are still served.");
ABSL_FLAG(int, adapt_min_features, 16,
          "Adapt: enrolled neutral features a user needs before adaptation.");
ABSL_FLAG(int, adapt_max_steps, 40,
          "Adapt: default step budget (a request may ask for up to 500); early stopping usually "
          "ends sooner.");
ABSL_FLAG(int, adapt_threads, 1,
          "Adapt: LibTorch intra-op threads per adaptation (0: --threads). The translator's "
          "layers are small; one thread runs them fastest and leaves the other cores to "
          "inference.");
ABSL_FLAG(int, translator_cache_mb, 256,
          "Per-replica cache of users' translators, in MiB of weights (~1 MiB per user for "
          "the default backbone); least recently used users are evicted.");
ABSL_FLAG(absl::Duration, profile_staleness, absl::Seconds(5),
          "Longest time a replica serves a cached translator without checking the store for a "
          "newer version or a deletion.");
ABSL_FLAG(std::string, store_failure_policy, "fallback",
          "StreamPredict for a user whose profile cannot be read (store down): 'fallback' "
          "answers with the generic model and says so in each answer; 'fail' ends the stream "
          "with the store's error (UNAVAILABLE).");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "Tenants' bearer tokens: lines '<tenant> <hex SHA-256 of the token>'. With it every "
          "ExpressionService call needs 'authorization: Bearer <token>' metadata and sees only "
          "its tenant's users; without it all calls share the tenant 'default'.");
ABSL_FLAG(std::string, tls_cert_file, "",
          "PEM certificate chain: serve gRPC over TLS (with --tls_key_file).");
ABSL_FLAG(std::string, tls_key_file, "", "PEM private key of --tls_cert_file.");
ABSL_FLAG(std::string, tls_client_ca_file, "",
          "PEM CA bundle: require and verify client certificates (mutual TLS).");
ABSL_FLAG(absl::Duration, credentials_reload_interval, absl::Seconds(60),
          "How often the --tls_* files and --auth_tokens_file are read again, so that renewed "
          "certificates and added or revoked tokens take effect without a restart (a file "
          "that cannot be read or parsed, or a certificate not paired with its key, keeps the "
          "previous ones); 0 reads them once at start.");
ABSL_FLAG(absl::Duration, stream_idle_timeout, absl::Seconds(60),
          "StreamPredict/EnrollNeutral streams with no message for this long are cancelled; "
          "0 disables.");
ABSL_FLAG(absl::Duration, max_stream_duration, absl::Hours(4),
          "A StreamPredict stream open longer than this ends UNAVAILABLE at its next frame "
          "(clients reconnect); 0 disables.");
ABSL_FLAG(double, max_stream_fps, 60,
          "Frames per second accepted per StreamPredict stream; faster streams are slowed down "
          "(backpressure), not dropped. 0 disables.");
ABSL_FLAG(absl::Duration, keepalive_time, absl::Seconds(30),
          "Interval of the server's HTTP/2 keepalive pings on idle connections.");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::Seconds(10),
          "A connection whose keepalive ping is not acknowledged within this is closed.");
ABSL_FLAG(absl::Duration, min_client_ping_interval, absl::Seconds(10),
          "Clients pinging more often than this are sent GOAWAY (too_many_pings).");
ABSL_FLAG(absl::Duration, max_connection_age, absl::ZeroDuration(),
          "Connections older than this get GOAWAY so that clients re-balance across replicas "
          "(streams then have --max_connection_age_grace to finish); 0 disables.");
ABSL_FLAG(absl::Duration, max_connection_age_grace, absl::Seconds(30),
          "Time open calls get after a --max_connection_age GOAWAY.");
ABSL_FLAG(std::string, call_log, "errors",
          "Finished calls logged, one logfmt line each (rpc, code, duration, tenant, peer, "
          "frames, message): errors (calls failing for a reason the operator may act on: all "
          "codes but OK, CANCELLED, INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, "
          "FAILED_PRECONDITION, ABORTED and OUT_OF_RANGE), all, or none.");
ABSL_FLAG(double, call_log_rate, 20,
          "Most call log lines per second (bursts of one second's worth); lines beyond are "
          "dropped and counted in the next line. 0: no limit.");

namespace fer {
namespace {

constexpr char kVersion[] = "0.1.0";
constexpr int kAdaptMaxStepsLimit = 500;

// SIGTERM/SIGINT are turned into a byte on a pipe, read by the drain thread
// (handlers run on whichever thread the kernel picks, including threads
// that libraries started before main).
int g_signal_pipe[2] = {-1, -1};

void OnTerminationSignal(int signal) {
  const char byte = static_cast<char>(signal);
  (void)!write(g_signal_pipe[1], &byte, 1);
}

void InstallTerminationHandlers() {
  if (pipe2(g_signal_pipe, O_CLOEXEC) != 0) std::abort();
  struct sigaction action = {};
  action.sa_handler = OnTerminationSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
}

int WaitForTerminationSignal() {
  char byte = 0;
  while (read(g_signal_pipe[0], &byte, 1) != 1) {
  }
  return byte;
}

bool IsServerFlagFile(absl::string_view file) {
  return absl::StrContains(file, "server/ferserve_main.cc");
}

// Flag values the server cannot run with; empty when all are usable.
std::string InvalidFlags() {
  const int port = absl::GetFlag(FLAGS_port);
  if (port < 0 || port > 65535) return "--port must be in [0, 65535]";
  const int metrics_port = absl::GetFlag(FLAGS_metrics_port);
  if (metrics_port < -1 || metrics_port > 65535) return "--metrics_port must be in [-1, 65535]";
  if (absl::GetFlag(FLAGS_threads) < 0) return "--threads must be 0 (all cores) or positive";
  const float score = absl::GetFlag(FLAGS_min_face_score);
  if (!(score > 0.f && score < 1.f)) return "--min_face_score must be in (0, 1)";
  const int window = absl::GetFlag(FLAGS_clip_window);
  if (window < 1 || window > 300) return "--clip_window must be in [1, 300]";
  if (absl::GetFlag(FLAGS_max_image_side) < 1) return "--max_image_side must be positive";
  const int interval = absl::GetFlag(FLAGS_detection_interval);
  if (interval < 1 || interval > kMaxDetectionInterval) {
    return "--detection_interval must be in [1, 30]";
  }
  if (absl::GetFlag(FLAGS_max_message_bytes) < 1024) return "--max_message_bytes must be >= 1024";
  if (absl::GetFlag(FLAGS_inference_concurrency) < 0) {
    return "--inference_concurrency must be 0 (as many as --threads) or positive";
  }
  CpuKernels kernels;
  if (!ParseCpuKernels(absl::GetFlag(FLAGS_cpu_kernels), &kernels)) {
    return "--cpu_kernels must be auto, native or libtorch";
  }
  if (absl::GetFlag(FLAGS_max_batch_size) < 1) return "--max_batch_size must be positive";
  if (absl::GetFlag(FLAGS_max_batch_delay) < absl::ZeroDuration()) {
    return "--max_batch_delay must not be negative";
  }
  if (absl::GetFlag(FLAGS_batch_queue_limit) < 1) return "--batch_queue_limit must be positive";
  if (absl::GetFlag(FLAGS_inference_threads) < 1) return "--inference_threads must be positive";
  if (absl::GetFlag(FLAGS_grpc_threads) < 0) return "--grpc_threads must not be negative";
  if (absl::GetFlag(FLAGS_max_concurrent_streams) < 1) {
    return "--max_concurrent_streams must be positive";
  }
  if (absl::GetFlag(FLAGS_grace_period) < absl::ZeroDuration()) {
    return "--grace_period must not be negative";
  }
  if (absl::GetFlag(FLAGS_max_enrolled_features) < 1) {
    return "--max_enrolled_features must be positive";
  }
  if (!absl::GetFlag(FLAGS_store_key_file).empty() && !absl::GetFlag(FLAGS_store_key_env).empty()) {
    return "give --store_key_file or --store_key_env, not both";
  }
  const bool keyed =
      !absl::GetFlag(FLAGS_store_key_file).empty() || !absl::GetFlag(FLAGS_store_key_env).empty();
  if (!keyed && !absl::GetFlag(FLAGS_store_previous_key_files).empty()) {
    return "--store_previous_key_files needs the current key: --store_key_file or "
           "--store_key_env";
  }
  if (!keyed && absl::GetFlag(FLAGS_store_reseal)) {
    return "--store_reseal needs the key to seal with: --store_key_file or --store_key_env";
  }
  if (!(absl::GetFlag(FLAGS_enroll_max_yaw) > 0)) return "--enroll_max_yaw must be positive";
  if (absl::GetFlag(FLAGS_adapt_min_features) < 2) return "--adapt_min_features must be >= 2";
  if (absl::GetFlag(FLAGS_adapt_threads) < 0) return "--adapt_threads must be >= 0";
  const int steps = absl::GetFlag(FLAGS_adapt_max_steps);
  if (steps < 1 || steps > kAdaptMaxStepsLimit) return "--adapt_max_steps must be in [1, 500]";
  if (absl::GetFlag(FLAGS_translator_cache_mb) < 1) return "--translator_cache_mb must be >= 1";
  if (absl::GetFlag(FLAGS_profile_staleness) < absl::ZeroDuration()) {
    return "--profile_staleness must not be negative";
  }
  for (const auto* flag :
       {&FLAGS_stream_idle_timeout, &FLAGS_max_stream_duration, &FLAGS_max_connection_age,
        &FLAGS_max_connection_age_grace, &FLAGS_credentials_reload_interval}) {
    if (absl::GetFlag(*flag) < absl::ZeroDuration()) return "durations must not be negative";
  }
  if (absl::GetFlag(FLAGS_keepalive_time) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_keepalive_timeout) <= absl::ZeroDuration()) {
    return "--keepalive_time and --keepalive_timeout must be positive";
  }
  if (!(absl::GetFlag(FLAGS_max_stream_fps) >= 0)) return "--max_stream_fps must not be negative";
  if (absl::GetFlag(FLAGS_tls_cert_file).empty() != absl::GetFlag(FLAGS_tls_key_file).empty()) {
    return "give --tls_cert_file and --tls_key_file together";
  }
  if (!absl::GetFlag(FLAGS_tls_client_ca_file).empty() &&
      absl::GetFlag(FLAGS_tls_cert_file).empty()) {
    return "--tls_client_ca_file needs --tls_cert_file and --tls_key_file";
  }
  const std::string policy = absl::GetFlag(FLAGS_store_failure_policy);
  if (policy != "fallback" && policy != "fail") {
    return "--store_failure_policy must be 'fallback' or 'fail'";
  }
  if (!(absl::GetFlag(FLAGS_enroll_max_roll_degrees) > 0)) {
    return "--enroll_max_roll_degrees must be positive";
  }
  const double min_neutral = absl::GetFlag(FLAGS_enroll_min_neutral_probability);
  if (!(min_neutral >= 0 && min_neutral <= 1)) {
    return "--enroll_min_neutral_probability must be in [0, 1]";
  }
  if (!ParseCallLogMode(absl::GetFlag(FLAGS_call_log)).ok()) {
    return "--call_log must be errors, all or none";
  }
  if (!(absl::GetFlag(FLAGS_call_log_rate) >= 0)) return "--call_log_rate must not be negative";
  return "";
}

// Opens --store (creating a RocksDB folder if missing) with the key of
// --store_key_file / --store_key_env (and older keys); `encryption` says how
// records are kept, `key_id` names the key new records are sealed with
// (empty: none).
absl::StatusOr<std::unique_ptr<ProfileStore>> OpenStoreFromFlags(std::string* encryption,
                                                                 std::string* key_id) {
  ProfileStoreOptions options;
  options.max_features = static_cast<uint32_t>(absl::GetFlag(FLAGS_max_enrolled_features));
  const std::string key_file = absl::GetFlag(FLAGS_store_key_file);
  const std::string key_env = absl::GetFlag(FLAGS_store_key_env);
  if (!key_file.empty() || !key_env.empty()) {
    absl::StatusOr<std::unique_ptr<RecordCipher>> cipher =
        key_file.empty() ? RecordCipher::FromEnv(key_env) : RecordCipher::FromKeyFile(key_file);
    if (!cipher.ok()) return cipher.status();
    *key_id = (*cipher)->key_id();
    *encryption = absl::StrCat("records encrypted with AES-256-GCM, key ", *key_id);
    std::vector<std::string> previous;
    for (const std::string& file : absl::GetFlag(FLAGS_store_previous_key_files)) {
      absl::StatusOr<std::string> id = (*cipher)->AddDecryptionKeyFile(file);
      if (!id.ok()) return id.status();
      previous.push_back(*std::move(id));
    }
    if (!previous.empty()) {
      absl::StrAppend(encryption, " (older records also with ", absl::StrJoin(previous, ", "), ")");
    }
    options.cipher = *std::move(cipher);
  } else {
    *encryption = "records NOT encrypted (no --store_key_file or --store_key_env)";
  }
  const std::string url = absl::GetFlag(FLAGS_store);
  constexpr absl::string_view kRocksDb = "rocksdb://";
  if (absl::StartsWith(url, kRocksDb)) {
    const std::string path = url.substr(kRocksDb.size());
    std::error_code error;
    if (!path.empty()) std::filesystem::create_directories(path, error);
    if (error) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot create the store folder ", path, ": ", error.message()));
    }
  }
  return OpenProfileStore(url, options);
}

// A line of the server's log, on standard output, written at once (one
// write per line, so lines of concurrent calls do not interleave).
void PrintLogLine(absl::string_view line) {
  const std::string text = absl::StrCat("ferserve: ", line, "\n");
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// TLS (and mutual TLS) from the --tls_* flags; null for plaintext.
absl::StatusOr<std::unique_ptr<TlsCredentials>> TlsFromFlags() {
  if (absl::GetFlag(FLAGS_tls_cert_file).empty()) return nullptr;
  return TlsCredentials::Create(
      {absl::GetFlag(FLAGS_tls_cert_file), absl::GetFlag(FLAGS_tls_key_file),
       absl::GetFlag(FLAGS_tls_client_ca_file)},
      absl::GetFlag(FLAGS_credentials_reload_interval), PrintLogLine);
}

// The face analyzer of --model_dir, --detector, --device and --cpu_kernels,
// with --backbone_model's network when one is given.
absl::StatusOr<std::unique_ptr<FaceAnalyzer>> LoadAnalyzerFromFlags() {
  FaceAnalyzerConfig config;
  config.model_dir = absl::GetFlag(FLAGS_model_dir);
  config.detector = absl::GetFlag(FLAGS_detector);
  config.device.name = absl::GetFlag(FLAGS_device);
  ParseCpuKernels(absl::GetFlag(FLAGS_cpu_kernels), &config.device.cpu_kernels);
  const std::string model = absl::GetFlag(FLAGS_backbone_model);
  if (model.empty()) return FaceAnalyzer::Load(config);
  absl::StatusOr<std::unique_ptr<BackboneFaceAnalyzer>> loaded =
      BackboneFaceAnalyzer::Load(config, model);
  if (!loaded.ok()) return loaded.status();
  return std::unique_ptr<FaceAnalyzer>(*std::move(loaded));
}

// --pft_bundle (null without one), which must have been trained on the
// analyzer's backbone features.
absl::StatusOr<std::unique_ptr<pft::ModelBundle>> LoadPftBundleFromFlags(
    const FaceAnalyzer& analyzer) {
  const std::string path = absl::GetFlag(FLAGS_pft_bundle);
  if (path.empty()) return nullptr;
  absl::StatusOr<pft::ModelBundle> read = pft::ReadModelBundleFile(path);
  if (!read.ok()) {
    return absl::Status(read.status().code(),
                        absl::StrCat("cannot load the PFT bundle: ", read.status().message()));
  }
  if (absl::Status fits = pft::CheckBundleFitsBackbone(*read, analyzer.backbone_id(),
                                                       analyzer.feature_dim(), analyzer.labels());
      !fits.ok()) {
    return absl::Status(fits.code(), absl::StrCat(path, ": ", fits.message()));
  }
  return std::make_unique<pft::ModelBundle>(*std::move(read));
}

// The service's options from the flags, but for its tokens and watchdog.
ExpressionServiceOptions ServiceOptionsFromFlags() {
  ExpressionServiceOptions options;
  options.frame_limits.max_side = absl::GetFlag(FLAGS_max_image_side);
  options.default_clip_window = absl::GetFlag(FLAGS_clip_window);
  options.default_min_face_score = absl::GetFlag(FLAGS_min_face_score);
  options.default_detection_interval = absl::GetFlag(FLAGS_detection_interval);
  options.server_version = kVersion;
  options.enrollment.min_face_px = absl::GetFlag(FLAGS_enroll_min_face_px);
  options.enrollment.min_sharpness = absl::GetFlag(FLAGS_enroll_min_sharpness);
  options.enrollment.max_yaw = absl::GetFlag(FLAGS_enroll_max_yaw);
  options.enrollment.max_roll_degrees = absl::GetFlag(FLAGS_enroll_max_roll_degrees);
  options.enrollment.min_neutral_probability =
      static_cast<float>(absl::GetFlag(FLAGS_enroll_min_neutral_probability));
  options.store_failure_policy = absl::GetFlag(FLAGS_store_failure_policy) == "fail"
                                     ? StoreFailurePolicy::kFailClosed
                                     : StoreFailurePolicy::kGenericFallback;
  options.adapt_min_features = absl::GetFlag(FLAGS_adapt_min_features);
  options.adapt.max_steps = absl::GetFlag(FLAGS_adapt_max_steps);
  options.adapt.threads = absl::GetFlag(FLAGS_adapt_threads);
  options.adapt_max_steps_limit = kAdaptMaxStepsLimit;
  options.max_stream_duration = absl::GetFlag(FLAGS_max_stream_duration);
  options.max_stream_fps = absl::GetFlag(FLAGS_max_stream_fps);
  return options;
}

// Message sizes, keepalive, connection age and gRPC's thread limit.
void ApplyConnectionFlags(grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(absl::GetFlag(FLAGS_max_message_bytes));
  builder->SetMaxSendMessageSize(absl::GetFlag(FLAGS_max_message_bytes));
  auto millis = [](absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); };
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                              millis(absl::GetFlag(FLAGS_keepalive_time)));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                              millis(absl::GetFlag(FLAGS_keepalive_timeout)));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              millis(absl::GetFlag(FLAGS_min_client_ping_interval)));
  if (absl::GetFlag(FLAGS_max_connection_age) > absl::ZeroDuration()) {
    builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                                millis(absl::GetFlag(FLAGS_max_connection_age)));
    builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                                millis(absl::GetFlag(FLAGS_max_connection_age_grace)));
  }
  if (const int threads = absl::GetFlag(FLAGS_grpc_threads); threads > 0) {
    grpc::ResourceQuota quota("ferserve");
    quota.SetMaxThreads(threads);
    builder->SetResourceQuota(quota);
  }
}

// Tenants' bearer tokens from --auth_tokens_file; null when it is not given.
absl::StatusOr<std::unique_ptr<TenantTokensFile>> LoadTokensFromFlags() {
  const std::string path = absl::GetFlag(FLAGS_auth_tokens_file);
  if (path.empty()) return nullptr;
  return TenantTokensFile::Open(path, absl::GetFlag(FLAGS_credentials_reload_interval),
                                PrintLogLine);
}

TranslatorCacheOptions TranslatorCacheOptionsFromFlags(const FaceAnalyzer& analyzer) {
  TranslatorCacheOptions options;
  options.capacity_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_translator_cache_mb)) << 20;
  options.staleness = absl::GetFlag(FLAGS_profile_staleness);
  options.backbone_id = analyzer.backbone_id();
  options.feature_dim = analyzer.feature_dim();
  return options;
}

DynamicBatcherOptions BatchingFromFlags() {
  DynamicBatcherOptions options;
  options.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  options.max_batch_delay = absl::GetFlag(FLAGS_max_batch_delay);
  options.queue_limit = absl::GetFlag(FLAGS_batch_queue_limit);
  options.threads = absl::GetFlag(FLAGS_inference_threads);
  return options;
}

// Prints "ferserve: <context><why>" and gives the exit status of a failed start.
int StartupFailure(absl::string_view context, const absl::Status& status,
                   absl::string_view hint = "") {
  std::fprintf(stderr, "ferserve: %s%s%s\n", std::string(context).c_str(),
               std::string(status.message()).c_str(), std::string(hint).c_str());
  return 1;
}

// What the server runs with, printed once it listens.
struct ServingSummary {
  std::string address;
  const MetricsEndpoint* metrics_endpoint = nullptr;
  const FaceAnalyzer* analyzer = nullptr;
  const ProfileStore* store = nullptr;
  std::string encryption;
  const TenantTokensFile* tokens = nullptr;
  const pft::ModelBundle* bundle = nullptr;
};

void PrintServingSummary(const ServingSummary& summary) {
  const FaceAnalyzer& analyzer = *summary.analyzer;
  std::printf("ferserve %s listening on %s (gRPC) %s; %s; detector %s; %s\n", kVersion,
              summary.address.c_str(),
              summary.metrics_endpoint
                  ? absl::StrCat("and :", summary.metrics_endpoint->port(), " (metrics)").c_str()
                  : "without a metrics endpoint",
              analyzer.device_name().c_str(), analyzer.detector_name().c_str(),
              TorchRuntimeSummary().c_str());
  std::printf("ferserve: backbone %s, %d-d features, %zu labels, %d x %d input%s\n",
              analyzer.backbone_id().c_str(), analyzer.feature_dim(), analyzer.labels().size(),
              analyzer.input_size(), analyzer.input_size(),
              analyzer.clip_frames() > 1
                  ? absl::StrCat(", clips of ", analyzer.clip_frames(), " frames every ",
                                 analyzer.clip_stride(), " frames")
                        .c_str()
                  : "");
  std::printf("ferserve: profile store %s; %s\n", summary.store->Describe().c_str(),
              summary.encryption.c_str());
  std::printf("ferserve: %s; %s\n",
              absl::GetFlag(FLAGS_tls_cert_file).empty()
                  ? "plaintext gRPC"
                  : (absl::GetFlag(FLAGS_tls_client_ca_file).empty() ? "TLS" : "mutual TLS"),
              summary.tokens ? absl::StrCat("bearer tokens for ", summary.tokens->current()->size(),
                                            " token(s)")
                                   .c_str()
                             : "no authentication (tenant 'default')");
  std::printf("ferserve: PFT %s\n",
              summary.bundle
                  ? absl::StrCat("bundle ", absl::GetFlag(FLAGS_pft_bundle), ", translator ",
                                 summary.bundle->translator.num_parameters(), " parameters")
                        .c_str()
                  : "bundle not configured (--pft_bundle): Adapt unavailable");
  if (const double min_neutral = absl::GetFlag(FLAGS_enroll_min_neutral_probability);
      min_neutral > 0) {
    std::printf(
        "ferserve: EnrollNeutral rejects frames whose neutral probability is below %.2f "
        "(NOT_NEUTRAL)\n",
        min_neutral);
  }
  std::fflush(stdout);
}

// Waits for SIGTERM/SIGINT, then drains: refuse new streams, then turn
// NOT_SERVING so load balancers stop sending (in this order, a client that
// has seen NOT_SERVING is never admitted), let open streams finish within
// --grace_period, then shut the server down.
void DrainOnTerminationSignal(StreamAdmission* admission, grpc::HealthCheckServiceInterface* health,
                              ServerMetrics* metrics, grpc::Server* server) {
  const int signal = WaitForTerminationSignal();
  const absl::Duration grace = absl::GetFlag(FLAGS_grace_period);
  std::printf("ferserve: signal %d, draining for up to %s\n", signal,
              absl::FormatDuration(grace).c_str());
  std::fflush(stdout);
  admission->StartDraining();
  health->SetServingStatus(false);
  metrics->SetServing(false);
  const bool idle = admission->WaitIdle(absl::Now() + grace);
  std::printf("ferserve: %s; shutting down\n",
              idle ? "all streams finished" : "grace period over, cancelling open streams");
  std::fflush(stdout);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
}

int Run() {
  if (const std::string invalid = InvalidFlags(); !invalid.empty()) {
    std::fprintf(stderr, "ferserve: %s\n", invalid.c_str());
    return 2;
  }
  if (const std::string blas = MatchBlasKernelsToCpu(); !blas.empty()) {
    std::printf("ferserve: %s\n", blas.c_str());
  }
  ConfigureAllocatorForInference(absl::GetFlag(FLAGS_threads));
  ConfigureTorchThreads(absl::GetFlag(FLAGS_threads));

  absl::StatusOr<std::unique_ptr<FaceAnalyzer>> loaded = LoadAnalyzerFromFlags();
  if (!loaded.ok()) return StartupFailure("cannot load models: ", loaded.status());
  FaceAnalyzer& analyzer = **loaded;
  if (absl::GetFlag(FLAGS_enroll_min_neutral_probability) > 0 &&
      NeutralLabelIndex(analyzer.labels()) < 0) {
    return StartupFailure(
        "", absl::FailedPreconditionError(absl::StrCat(
                "--enroll_min_neutral_probability needs a backbone with a \"neutral\" label; ",
                analyzer.backbone_id(), " has ", absl::StrJoin(analyzer.labels(), ", "))));
  }
  std::string encryption;
  std::string key_id;
  absl::StatusOr<std::unique_ptr<ProfileStore>> store = OpenStoreFromFlags(&encryption, &key_id);
  if (!store.ok()) {
    return StartupFailure(
        absl::StrCat("cannot open the profile store ", absl::GetFlag(FLAGS_store), ": "),
        store.status());
  }
  absl::StatusOr<std::unique_ptr<pft::ModelBundle>> bundle = LoadPftBundleFromFlags(analyzer);
  if (!bundle.ok()) return StartupFailure("", bundle.status());
  absl::StatusOr<pft::LinearHead> head =
      pft::LinearHeadFromLayer(analyzer.ExpressionHead(), analyzer.labels());
  if (!head.ok()) return StartupFailure("", head.status());
  TranslatorCache translator_cache(store->get(), TranslatorCacheOptionsFromFlags(analyzer));
  absl::StatusOr<std::unique_ptr<TenantTokensFile>> tokens = LoadTokensFromFlags();
  if (!tokens.ok()) return StartupFailure("", tokens.status());
  // Declared before the server, so that it outlives it.
  absl::StatusOr<std::unique_ptr<TlsCredentials>> tls = TlsFromFlags();
  if (!tls.ok()) return StartupFailure("TLS: ", tls.status());

  ServerMetrics metrics;
  metrics.SetModelInfo({analyzer.backbone_id(), analyzer.detector_name(), analyzer.device_name(),
                        analyzer.feature_dim(), static_cast<int>(analyzer.labels().size())});
  StreamAdmission admission(absl::GetFlag(FLAGS_max_concurrent_streams));
  StreamWatchdog watchdog(absl::GetFlag(FLAGS_stream_idle_timeout));
  InferenceGate gate(absl::GetFlag(FLAGS_inference_concurrency) > 0
                         ? absl::GetFlag(FLAGS_inference_concurrency)
                         : IntraOpThreads());
  // The backbone runs on batches of faces from all streams; a batch is one
  // model execution, so it takes a gate slot like a frame's detection does,
  // ahead of frames still waiting for their detection: its faces' frames
  // are past theirs. Warm-up batches are not traffic: the batch metrics
  // start after them.
  std::atomic<bool> warming_up{true};
  DynamicBatcher batcher(
      [&analyzer, &gate](const std::vector<RgbImage>& crops) {
        const std::optional<InferenceGate::Slot> slot =
            gate.Take(absl::InfiniteFuture(), InferenceGate::Priority::kFinishing);
        return analyzer.RunBackbone(crops);
      },
      BatchingFromFlags(),
      [&metrics, &warming_up](const BatchStats& batch) {
        if (!warming_up) metrics.ObserveBatch(batch.crops, batch.queue_seconds);
      });
  // Declared after the gate and the batcher, so stopped before them.
  std::unique_ptr<MetricsEndpoint> metrics_endpoint;
  if (absl::GetFlag(FLAGS_metrics_port) >= 0) {
    absl::StatusOr<std::unique_ptr<MetricsEndpoint>> endpoint = MetricsEndpoint::Start(
        absl::GetFlag(FLAGS_host), absl::GetFlag(FLAGS_metrics_port), [&metrics, &gate, &batcher] {
          metrics.SetQueueDepths(gate.waiting(), batcher.queued_crops());
          return metrics.Serialize();
        });
    if (!endpoint.ok()) return StartupFailure("", endpoint.status());
    metrics_endpoint = *std::move(endpoint);
  }
  if (absl::GetFlag(FLAGS_warmup)) {
    absl::StatusOr<std::vector<WarmupStep>> warmup =
        WarmUpModels(analyzer,
                     [&batcher](const std::vector<RgbImage>& crops) {
                       BatchRequest request;
                       request.crops = crops;
                       return batcher.Run(std::move(request));
                     },
                     {1, absl::GetFlag(FLAGS_max_batch_size)});
    if (!warmup.ok()) {
      return StartupFailure(
          "warm-up failed: ", warmup.status(),
          absl::IsResourceExhausted(warmup.status()) ? " (lower --max_batch_size)" : "");
    }
    std::printf("ferserve: models warmed up: %s\n", DescribeWarmup(*warmup).c_str());
  }
  warming_up = false;
  CallLog call_log(*ParseCallLogMode(absl::GetFlag(FLAGS_call_log)),
                   absl::GetFlag(FLAGS_call_log_rate), PrintLogLine);
  ExpressionServiceOptions options = ServiceOptionsFromFlags();
  options.tokens = tokens->get();
  options.watchdog = &watchdog;
  options.call_log = &call_log;
  ExpressionService service(&analyzer, &metrics, &admission, &gate, &batcher, store->get(),
                            Personalization{bundle->get(), *std::move(head), &translator_cache},
                            options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string host = absl::GetFlag(FLAGS_host);
  const std::string bracketed_host = absl::StrContains(host, ":") ? "[" + host + "]" : host;
  const std::string address = absl::StrCat(bracketed_host, ":", absl::GetFlag(FLAGS_port));
  int bound_port = 0;
  builder.AddListeningPort(
      address, *tls != nullptr ? (*tls)->server_credentials() : grpc::InsecureServerCredentials(),
      &bound_port);
  ApplyConnectionFlags(&builder);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    std::fprintf(stderr, "ferserve: cannot listen on %s\n", address.c_str());
    return 1;
  }
  grpc::HealthCheckServiceInterface* health = server->GetHealthCheckService();
  health->SetServingStatus("fer.v1.ExpressionService", true);
  health->SetServingStatus(true);
  metrics.SetServing(true);
  PrintServingSummary({absl::StrCat(bracketed_host, ":", bound_port), metrics_endpoint.get(),
                       &analyzer, store->get(), encryption, tokens->get(), bundle->get()});

  std::unique_ptr<StoreResealer> resealer;
  if (absl::GetFlag(FLAGS_store_reseal)) {
    resealer = std::make_unique<StoreResealer>(store->get(), key_id, PrintLogLine);
  }

  std::thread drainer(DrainOnTerminationSignal, &admission, health, &metrics, server.get());
  server->Wait();
  drainer.join();
  return 0;
}

}  // namespace
}  // namespace fer

int main(int argc, char** argv) {
  fer::InstallTerminationHandlers();
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = fer::IsServerFlagFile;
  usage.contains_helpshort_flags = fer::IsServerFlagFile;
  usage.version_string = [] { return std::string("ferserve ") + fer::kVersion + "\n"; };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "Facial expression recognition over gRPC (fer.v1.ExpressionService), with the standard "
      "health and reflection services and Prometheus metrics.\n"
      "Usage: ferserve [--port=50051] [--metrics_port=9464] [--device=cpu] "
      "[--store=rocksdb:///var/lib/ferserve/profiles] [--store_key_file=KEY] ...");
  absl::ParseCommandLine(argc, argv);
  return fer::Run();
}
