// ferserve refuses flag values it cannot run with before it loads anything
// (exit status 2, one line naming the flag), and stops at start-up with
// exit status 1 when what a flag names cannot be used; README's
// Configuration table lists its flags with their defaults.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "tests/child_process.h"
#include "tests/file_contents.h"
#include "tests/process_temp_dir.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

struct Refusal {
  std::vector<std::string> flags;
  std::string message;  // the line ferserve prints, after "ferserve: "
};

testing::ChildResult RunFerserve(const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {std::string(FERSERVE_BINARY_DIR) + "/server/ferserve",
                                   "--host=127.0.0.1",
                                   "--port=0",
                                   "--metrics_port=0",
                                   "--warmup=false",
                                   "--store=rocksdb://" + testing::ProcessTempDir() + "store"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return testing::RunChildProcess(argv, std::chrono::seconds(60));
}

void ExpectRefused(const Refusal& refusal, int exit_code) {
  std::string flags;
  for (const std::string& flag : refusal.flags) flags += flag + " ";
  const testing::ChildResult result = RunFerserve(refusal.flags);
  EXPECT_EQ(result.exit_code, exit_code) << flags << "\n" << result.out << result.err;
  EXPECT_NE(result.err.find("ferserve: " + refusal.message + "\n"), std::string::npos)
      << flags << "\n"
      << result.err;
  EXPECT_EQ(result.out.find("listening"), std::string::npos) << flags << "\n" << result.out;
}

TEST(FerserveFlagsE2eTest, ValuesItCannotRunWithAreRefusedBeforeLoading) {
  const std::vector<Refusal> refusals = {
      {{"--port=70000"}, "--port must be in [0, 65535]"},
      {{"--port=-1"}, "--port must be in [0, 65535]"},
      {{"--metrics_port=65536"}, "--metrics_port must be in [-1, 65535]"},
      {{"--metrics_port=-2"}, "--metrics_port must be in [-1, 65535]"},
      {{"--threads=-1"}, "--threads must be 0 (all cores) or positive"},
      {{"--min_face_score=1"}, "--min_face_score must be in (0, 1)"},
      {{"--min_face_score=nan"}, "--min_face_score must be in (0, 1)"},
      {{"--clip_window=301"}, "--clip_window must be in [1, 300]"},
      {{"--max_image_side=0"}, "--max_image_side must be positive"},
      {{"--detection_interval=31"}, "--detection_interval must be in [1, 30]"},
      {{"--detection_interval=0"}, "--detection_interval must be in [1, 30]"},
      {{"--max_message_bytes=1023"}, "--max_message_bytes must be >= 1024"},
      {{"--inference_concurrency=-1"},
       "--inference_concurrency must be 0 (as many as --threads) or positive"},
      {{"--cpu_kernels=gpu"}, "--cpu_kernels must be auto, native or libtorch"},
      {{"--max_batch_size=0"}, "--max_batch_size must be positive"},
      {{"--max_batch_delay=-1ms"}, "--max_batch_delay must not be negative"},
      {{"--batch_queue_limit=0"}, "--batch_queue_limit must be positive"},
      {{"--inference_threads=0"}, "--inference_threads must be positive"},
      {{"--grpc_threads=-1"}, "--grpc_threads must not be negative"},
      {{"--max_concurrent_streams=0"}, "--max_concurrent_streams must be positive"},
      {{"--grace_period=-1s"}, "--grace_period must not be negative"},
      {{"--max_enrolled_features=0"}, "--max_enrolled_features must be positive"},
      {{"--store_key_file=/k", "--store_key_env=K"},
       "give --store_key_file or --store_key_env, not both"},
      {{"--store_previous_key_files=/old.key"},
       "--store_previous_key_files needs the current key: --store_key_file or --store_key_env"},
      {{"--store_reseal"},
       "--store_reseal needs the key to seal with: --store_key_file or --store_key_env"},
      {{"--enroll_max_yaw=0"}, "--enroll_max_yaw must be positive"},
      {{"--adapt_min_features=1"}, "--adapt_min_features must be >= 2"},
      {{"--adapt_threads=-1"}, "--adapt_threads must be >= 0"},
      {{"--adapt_max_steps=501"}, "--adapt_max_steps must be in [1, 500]"},
      {{"--translator_cache_mb=0"}, "--translator_cache_mb must be >= 1"},
      {{"--profile_staleness=-1s"}, "--profile_staleness must not be negative"},
      {{"--stream_idle_timeout=-1s"}, "durations must not be negative"},
      {{"--max_stream_duration=-1s"}, "durations must not be negative"},
      {{"--max_connection_age=-1s"}, "durations must not be negative"},
      {{"--max_connection_age_grace=-1s"}, "durations must not be negative"},
      {{"--credentials_reload_interval=-1s"}, "durations must not be negative"},
      {{"--keepalive_time=0s"}, "--keepalive_time and --keepalive_timeout must be positive"},
      {{"--keepalive_timeout=0s"}, "--keepalive_time and --keepalive_timeout must be positive"},
      {{"--max_stream_fps=-1"}, "--max_stream_fps must not be negative"},
      {{"--tls_cert_file=/c.pem"}, "give --tls_cert_file and --tls_key_file together"},
      {{"--tls_client_ca_file=/ca.pem"},
       "--tls_client_ca_file needs --tls_cert_file and --tls_key_file"},
      {{"--store_failure_policy=retry"}, "--store_failure_policy must be 'fallback' or 'fail'"},
      {{"--enroll_max_roll_degrees=0"}, "--enroll_max_roll_degrees must be positive"},
      {{"--enroll_min_neutral_probability=-0.1"},
       "--enroll_min_neutral_probability must be in [0, 1]"},
      {{"--enroll_min_neutral_probability=1.5"},
       "--enroll_min_neutral_probability must be in [0, 1]"},
      {{"--enroll_min_neutral_probability=nan"},
       "--enroll_min_neutral_probability must be in [0, 1]"},
      {{"--call_log=some"}, "--call_log must be errors, all or none"},
      {{"--call_log_rate=-1"}, "--call_log_rate must not be negative"},
  };
  for (const Refusal& refusal : refusals) ExpectRefused(refusal, 2);
}

TEST(FerserveFlagsE2eTest, WhatAFlagNamesMustBeUsableAtStartUp) {
  const std::vector<Refusal> refusals = {
      {{"--detector=foo"},
       "cannot load models: unknown face detector 'foo' (expected ssd_mobilenetv1 or "
       "tiny_face_detector)"},
      {{"--model_dir=/no/such/models"},
       "cannot load models: cannot read "
       "/no/such/models/ssd_mobilenetv1_model-weights_manifest.json: No such file or directory"},
      {{"--store=memcached://127.0.0.1:11211"},
       "cannot open the profile store memcached://127.0.0.1:11211: unknown profile store URL "
       "'memcached://127.0.0.1:11211': expected rocksdb:///absolute/path, redis://host:port/db "
       "or rediss://host:port/db"},
      {{"--tls_cert_file=/no/cert.pem", "--tls_key_file=/no/key.pem"},
       "TLS: cannot read --tls_cert_file /no/cert.pem: No such file or directory"},
  };
  for (const Refusal& refusal : refusals) ExpectRefused(refusal, 1);
}

// A minimum neutral probability cannot be applied to a backbone that has no
// neutral label: refused at start-up, not ignored at every enrollment.
TEST(FerserveFlagsE2eTest, AMinimumNeutralProbabilityNeedsANeutralLabel) {
  const std::string model_dir = testing::ClipModelDir();
  std::string config = testing::ReadFileContents(model_dir + "/model.json");
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"\"neutral\"", "\"calm\""},
                                 {"\"model.pt\"", "\"" + model_dir + "/model.pt\""}}) {
    const size_t at = config.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    config.replace(at, from.size(), to);
  }
  const std::string path = testing::ProcessTempDir() + "no_neutral_model.json";
  std::ofstream(path) << config;

  const testing::ChildResult refused =
      RunFerserve({"--backbone_model=" + path, "--enroll_min_neutral_probability=0.3"});
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("--enroll_min_neutral_probability needs a backbone with a "
                             "\"neutral\" label; "),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find(" has calm, happiness, sadness, surprise, anger\n"), std::string::npos)
      << refused.err;
  EXPECT_EQ(refused.out.find("listening"), std::string::npos) << refused.out;
}

// Flag name -> default, of the flags ferserve defines itself (not Abseil's),
// from `ferserve --helpfull`.
std::map<std::string, std::string> FerserveFlagDefaults() {
  const testing::ChildResult help = testing::RunChildProcess(
      {std::string(FERSERVE_BINARY_DIR) + "/server/ferserve", "--helpfull"});
  std::map<std::string, std::string> defaults;
  bool ours = false;
  std::string flag;
  for (absl::string_view line : absl::StrSplit(help.out, '\n')) {
    if (absl::ConsumePrefix(&line, "  Flags from ")) {
      ours = !absl::StrContains(line, "absl/");
      flag.clear();
    } else if (ours && absl::ConsumePrefix(&line, "    --")) {
      flag = std::string(line.substr(0, line.find(' ')));
    }
    const size_t at = line.rfind("default: ");
    if (!flag.empty() && at != absl::string_view::npos && absl::ConsumeSuffix(&line, ";")) {
      defaults[flag] =
          std::string(absl::StripPrefix(absl::StripSuffix(line.substr(at + 9), "\""), "\""));
      flag.clear();
    }
  }
  return defaults;
}

// Whether README's `documented` default is the binary's `actual` one: the
// same text, the same duration written another way (60s, 1m), or a path
// the binary holds from the source folder.
bool SameDefault(const std::string& documented, const std::string& actual) {
  absl::Duration a, b;
  return documented == actual || absl::EndsWith(actual, "/" + documented) ||
         (absl::ParseDuration(documented, &a) && absl::ParseDuration(actual, &b) && a == b);
}

// Operators read the README's table, not --helpfull: a flag added, renamed
// or given another default without the table saying so fails here.
TEST(FerserveFlagsE2eTest, TheReadmeTablesEveryFlagWithItsDefault) {
  const std::map<std::string, std::string> defaults = FerserveFlagDefaults();
  ASSERT_GT(defaults.size(), 40u);
  const std::string readme =
      testing::ReadFileContents(std::string(FERSERVE_SOURCE_DIR) + "/README.md");
  const size_t begin = readme.find("\n## Configuration\n");
  ASSERT_NE(begin, std::string::npos);
  const std::string section = readme.substr(begin, readme.find("\n## ", begin + 1) - begin);

  std::set<std::string> tabled;
  for (absl::string_view row : absl::StrSplit(section, '\n')) {
    if (!absl::StartsWith(row, "| `--")) continue;
    const std::vector<std::string> cells = absl::StrSplit(row, " | ");
    ASSERT_GE(cells.size(), 3u) << row;
    std::vector<std::string> names, values;
    for (absl::string_view code : absl::StrSplit(cells[0], '`')) {
      if (absl::ConsumePrefix(&code, "--")) names.emplace_back(code);
    }
    const std::vector<std::string> quoted = absl::StrSplit(cells[1], '`');
    for (size_t i = 1; i < quoted.size(); i += 2) values.push_back(quoted[i]);
    for (size_t i = 0; i < names.size(); ++i) {
      auto actual = defaults.find(names[i]);
      EXPECT_NE(actual, defaults.end()) << "README tables --" << names[i] << ", ferserve has none";
      if (actual == defaults.end()) continue;
      tabled.insert(names[i]);
      // "none ...": no value; else one `value` per flag, when the cell has
      // exactly that (a cell such as "16 MiB" is read by people only).
      if (absl::StartsWith(cells[1], "none")) {
        EXPECT_EQ(actual->second, "") << "--" << names[i];
      } else if (values.size() == names.size()) {
        EXPECT_TRUE(SameDefault(values[i], actual->second))
            << "--" << names[i] << ": README says " << values[i] << ", ferserve " << actual->second;
      }
    }
  }
  for (const auto& [flag, value] : defaults) {
    EXPECT_TRUE(tabled.count(flag))
        << "--" << flag << " (default " << value << ") is not in README's Configuration table";
  }
}

}  // namespace
}  // namespace fer
