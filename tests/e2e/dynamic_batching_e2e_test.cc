// End-to-end: the backbone's dynamic batcher in the real ferserve binary.
// Several streams share batches and still get their own answers, the same as
// without batching; the batch metrics are exported; a full batch queue
// refuses frames with RESOURCE_EXHAUSTED and the server stays up; the
// networks are warmed up through the batcher before the server serves, and
// the warm-up does not count as traffic.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "fer/v1/expression_service.grpc.pb.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/metric_samples.h"
#include "tests/e2e/stream_predict_call.h"
#include "tests/file_contents.h"
#include "tests/http_get.h"
#include "tests/parity/reference_outputs.h"

namespace fer {
namespace {

using fer::v1::ExpressionService;
using fer::v1::PredictResponse;
using grpc::health::v1::HealthCheckResponse;

// Sends the frames one at a time, each after the previous answer, the
// first asking for features. `pause_after_first` delays the second frame.
testing::PredictOutcome RunStream(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::vector<std::string>& frames,
                                  std::chrono::milliseconds pause_after_first = {}) {
  auto stub = ExpressionService::NewStub(channel);
  fer::v1::StreamConfig config;
  config.set_include_features(true);
  return testing::StreamInLockstep(stub.get(), testing::FrameRequests(frames, config),
                                   std::chrono::seconds(300), [&](size_t i) {
                                     if (i == 0) std::this_thread::sleep_for(pause_after_first);
                                   });
}

class DynamicBatchingE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reference_ = new testing::ReferenceOutputs(testing::LoadReferenceOutputs());
    for (const auto& [file, faces] : reference_->images) {
      if (file.rfind("franck_", 0) == 0) files_.push_back(file);
    }
    std::sort(files_.begin(), files_.end());
    for (const std::string& file : files_) {
      frames_.push_back(testing::ReadFileContents(testing::FramesDir() + "/" + file));
    }
  }
  static void TearDownTestSuite() { delete reference_; }

  static testing::ReferenceOutputs* reference_;
  static std::vector<std::string> files_;
  static std::vector<std::string> frames_;
};

testing::ReferenceOutputs* DynamicBatchingE2eTest::reference_ = nullptr;
std::vector<std::string> DynamicBatchingE2eTest::files_;
std::vector<std::string> DynamicBatchingE2eTest::frames_;

TEST_F(DynamicBatchingE2eTest, ConcurrentStreamsShareBatchesAndGetUnbatchedAnswers) {
  ASSERT_GE(frames_.size(), 24u);
  // Unbatched: one face per backbone run, one stream.
  testing::FerserveProcess unbatched({"--max_batch_size=1", "--max_batch_delay=0"});
  ASSERT_TRUE(unbatched.ok()) << unbatched.Log();
  const testing::PredictOutcome want = RunStream(unbatched.channel(), frames_);
  ASSERT_TRUE(want.status.ok()) << want.status.error_message();
  ASSERT_EQ(want.responses.size(), frames_.size());

  // Batched: four streams whose frames finish detection together (four
  // detections may run at once) and wait up to 1 s for each other.
  testing::FerserveProcess batched(
      {"--max_batch_size=4", "--max_batch_delay=1s", "--inference_concurrency=4"});
  ASSERT_TRUE(batched.ok()) << batched.Log();
  constexpr int kStreams = 4;
  std::vector<std::vector<std::string>> sent(kStreams);
  std::vector<std::vector<size_t>> order(kStreams);
  for (int s = 0; s < kStreams; ++s) {
    // Each stream its own rotation of the frames.
    for (size_t i = 0; i < frames_.size(); ++i) {
      const size_t k = (i + 5 * s) % frames_.size();
      sent[s].push_back(frames_[k]);
      order[s].push_back(k);
    }
  }
  std::vector<testing::PredictOutcome> got(kStreams);
  std::vector<std::thread> streams;
  for (int s = 0; s < kStreams; ++s) {
    streams.emplace_back([&, s] { got[s] = RunStream(batched.channel(), sent[s]); });
  }
  for (std::thread& t : streams) t.join();

  for (int s = 0; s < kStreams; ++s) {
    SCOPED_TRACE("stream " + std::to_string(s));
    ASSERT_TRUE(got[s].status.ok()) << got[s].status.error_message();
    ASSERT_EQ(got[s].responses.size(), frames_.size());
    for (size_t i = 0; i < frames_.size(); ++i) {
      const PredictResponse& r = got[s].responses[i];
      const PredictResponse& w = want.responses[order[s][i]];
      SCOPED_TRACE(files_[order[s][i]]);
      EXPECT_EQ(r.frame_index(), i);  // in order
      ASSERT_EQ(r.faces_size(), w.faces_size());
      for (int f = 0; f < r.faces_size(); ++f) {
        EXPECT_EQ(r.faces(f).top_label(), w.faces(f).top_label());
        ASSERT_EQ(r.faces(f).probabilities_size(), w.faces(f).probabilities_size());
        for (int c = 0; c < r.faces(f).probabilities_size(); ++c) {
          EXPECT_NEAR(r.faces(f).probabilities(c).probability(),
                      w.faces(f).probabilities(c).probability(), 1e-4);
        }
        EXPECT_NEAR(r.faces(f).box().x(), w.faces(f).box().x(), 1e-3);
      }
      // And the Node.js reference's answer.
      const std::vector<testing::ReferenceFace>& ref = reference_->images.at(files_[order[s][i]]);
      if (!ref.empty() && r.faces_size() > 0) {
        for (int c = 0; c < 7; ++c) {
          EXPECT_NEAR(r.faces(0).probabilities(c).probability(), ref[0].expressions[c], 1e-3);
        }
      }
    }
    // The first frame asked for features: the batch gave this stream its
    // own rows.
    ASSERT_GT(got[s].responses[0].faces_size(), 0);
    ASSERT_EQ(got[s].responses[0].faces(0).features_size(), 256);
    for (int k = 0; k < 256; k += 17) {
      EXPECT_NEAR(got[s].responses[0].faces(0).features(k),
                  want.responses[order[s][0]].faces(0).features(k), 1e-3);
    }
  }

  // The batcher's metrics: batches ran, some with faces of several streams.
  const std::string metrics = testing::HttpGet(batched.metrics_port(), "/metrics");
  const testing::MetricSamples samples = testing::ParseMetrics(metrics);
  const double batches = testing::MetricValue(samples, "ferserve_batch_size_count");
  const double faces = testing::MetricValue(samples, "ferserve_batch_size_sum");
  EXPECT_GT(batches, 0) << metrics;
  EXPECT_GT(faces, batches) << "no batch held more than one face\n" << metrics;
  EXPECT_LE(faces, 4 * batches) << metrics;
  EXPECT_GT(testing::MetricValue(samples, "ferserve_batch_queue_duration_seconds_count"), 0)
      << metrics;
  // No batch held more than --max_batch_size faces.
  EXPECT_EQ(testing::HistogramCountAtMost(samples, "ferserve_batch_size", "", 4), batches)
      << metrics;
  EXPECT_EQ(testing::HistogramCountAtMost(samples, "ferserve_batch_queue_duration_seconds", "",
                                          std::numeric_limits<double>::infinity()),
            testing::MetricValue(samples, "ferserve_batch_queue_duration_seconds_count"))
      << metrics;
}

TEST_F(DynamicBatchingE2eTest, AFullBatchQueueAnswersResourceExhaustedAndTheServerStaysUp) {
  // One face may wait; its batch waits 5 s to fill, so a second stream's
  // face arrives while the queue is full.
  testing::FerserveProcess server({"--batch_queue_limit=1", "--max_batch_delay=5s"});
  ASSERT_TRUE(server.ok()) << server.Log();
  const std::vector<std::string> one = {frames_[0]};
  testing::PredictOutcome first;
  std::thread waiting([&] { first = RunStream(server.channel(), one); });
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  const testing::PredictOutcome refused = RunStream(server.channel(), one);
  // The first stream's face still waits for its batch.
  const testing::MetricSamples while_waiting = testing::ScrapeMetrics(server.metrics_port());
  waiting.join();

  EXPECT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_EQ(first.responses.size(), 1u);
  EXPECT_EQ(refused.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << refused.status.error_message();
  EXPECT_NE(refused.status.error_message().find("queue"), std::string::npos)
      << refused.status.error_message();
  EXPECT_TRUE(refused.responses.empty());

  EXPECT_TRUE(server.running()) << server.Log();
  EXPECT_EQ(server.Health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(testing::MetricValue(while_waiting, "ferserve_batch_queue_faces"), 1);
  const std::string metrics = testing::HttpGet(server.metrics_port(), "/metrics");
  const testing::MetricSamples samples = testing::ParseMetrics(metrics);
  EXPECT_EQ(testing::MetricValue(samples, "ferserve_batch_queue_faces"), 0) << metrics;
  EXPECT_EQ(testing::MetricValue(samples, "ferserve_inference_queue_length"), 0) << metrics;
  EXPECT_EQ(testing::MetricValue(samples, "ferserve_rejected_frames_total{reason=\"queue_full\"}"),
            1)
      << metrics;
  EXPECT_EQ(
      testing::MetricValue(
          samples, "ferserve_requests_total{code=\"RESOURCE_EXHAUSTED\",rpc=\"StreamPredict\"}"),
      1)
      << metrics;
}

TEST_F(DynamicBatchingE2eTest, ModelsAreWarmedUpBeforeServingAndNotCountedAsTraffic) {
  testing::FerserveProcess server({"--max_batch_size=8"});
  ASSERT_TRUE(server.ok()) << server.Log();
  const std::string log = server.Log();
  EXPECT_NE(log.find("models warmed up: face detection"), std::string::npos) << log;
  EXPECT_NE(log.find("the backbone at batch 1 "), std::string::npos) << log;
  EXPECT_NE(log.find("the backbone at batch 8 "), std::string::npos) << log;
  // Printed before the server listens, so before it can report SERVING.
  EXPECT_LT(log.find("models warmed up"), log.find(" listening on ")) << log;

  testing::MetricSamples metrics = testing::ScrapeMetrics(server.metrics_port());
  EXPECT_EQ(testing::MetricValue(metrics, "ferserve_batch_size_count"), 0);
  EXPECT_EQ(testing::MetricValue(metrics, "ferserve_batch_queue_duration_seconds_count"), 0);
  const testing::PredictOutcome one = RunStream(server.channel(), {frames_[0]});
  ASSERT_TRUE(one.status.ok()) << one.status.error_message();
  metrics = testing::ScrapeMetrics(server.metrics_port());
  EXPECT_EQ(testing::MetricValue(metrics, "ferserve_batch_size_count"), 1);

  testing::FerserveProcess cold({"--warmup=false"});
  ASSERT_TRUE(cold.ok()) << cold.Log();
  EXPECT_EQ(cold.Log().find("warmed up"), std::string::npos) << cold.Log();
}

}  // namespace
}  // namespace fer
