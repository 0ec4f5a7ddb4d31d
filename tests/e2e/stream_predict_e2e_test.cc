// End-to-end: the real ferserve binary on a loopback port, driven through the
// generated gRPC stubs.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fer/v1/expression_service.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "lib/vision/image_file.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/metric_samples.h"
#include "tests/e2e/personalization_client.h"
#include "tests/e2e/stream_predict_call.h"
#include "tests/file_contents.h"
#include "tests/http_get.h"
#include "tests/parity/reference_outputs.h"
#include "tests/poll_until.h"

namespace fer {
namespace {

using fer::v1::ExpressionService;
using fer::v1::PredictRequest;
using fer::v1::PredictResponse;
using grpc::health::v1::HealthCheckResponse;

class StreamPredictE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::FerserveProcess({"--max_message_bytes=1048576"});
    reference_ = new testing::ReferenceOutputs(testing::LoadReferenceOutputs());
  }
  static void TearDownTestSuite() {
    delete server_;
    delete reference_;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->Log();
    stub_ = ExpressionService::NewStub(server_->channel());
  }
  // One StreamPredict call on the suite's server, in lockstep.
  testing::PredictOutcome RunStream(const std::vector<PredictRequest>& requests) {
    return testing::StreamInLockstep(stub_.get(), requests, std::chrono::seconds(120));
  }
  void TearDown() override {
    // Whatever a test sent, the server is still up and serving.
    EXPECT_TRUE(server_->running()) << server_->Log();
    EXPECT_EQ(server_->Health(""), HealthCheckResponse::SERVING);
  }

  static testing::FerserveProcess* server_;
  static testing::ReferenceOutputs* reference_;
  std::unique_ptr<ExpressionService::Stub> stub_;
};

testing::FerserveProcess* StreamPredictE2eTest::server_ = nullptr;
testing::ReferenceOutputs* StreamPredictE2eTest::reference_ = nullptr;

TEST_F(StreamPredictE2eTest, HealthReportsServingForServerAndService) {
  EXPECT_EQ(server_->Health(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(server_->Health("fer.v1.ExpressionService"), HealthCheckResponse::SERVING);
}

TEST_F(StreamPredictE2eTest, ReflectionListsTheService) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(server_->channel());
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::vector<std::string> names;
  for (const auto& s : response.list_services_response().service()) names.push_back(s.name());
  EXPECT_NE(std::find(names.begin(), names.end(), "fer.v1.ExpressionService"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.health.v1.Health"), names.end());
  stream->WritesDone();
  stream->Finish();
}

TEST_F(StreamPredictE2eTest, ModelInfoDescribesTheEmbeddedModel) {
  grpc::ClientContext context;
  fer::v1::ModelInfo info;
  ASSERT_TRUE(stub_->GetModelInfo(&context, {}, &info).ok());
  EXPECT_EQ(std::vector<std::string>(info.labels().begin(), info.labels().end()),
            reference_->labels);
  EXPECT_EQ(info.feature_dim(), 256u);
  EXPECT_EQ(info.input_size(), 112u);
  EXPECT_EQ(info.detector(), "ssd_mobilenetv1");
  EXPECT_EQ(info.device(), "cpu");
}

TEST_F(StreamPredictE2eTest, FranckFramesAgreeWithTheReference) {
  std::vector<std::string> files;
  std::vector<PredictRequest> requests;
  for (const auto& [file, faces] : reference_->images) {
    if (file.rfind("franck_", 0) != 0) continue;
    files.push_back(file);
    requests.push_back(
        testing::FrameRequest(testing::ReadFileContents(testing::FramesDir() + "/" + file)));
  }
  ASSERT_GE(files.size(), 24u);
  requests[0].mutable_config()->set_include_landmarks(true);
  requests[0].mutable_config()->set_clip_window(4);
  const testing::PredictOutcome result = RunStream(requests);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.responses.size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) {
    const PredictResponse& r = result.responses[i];
    const std::vector<testing::ReferenceFace>& want = reference_->images.at(files[i]);
    SCOPED_TRACE(files[i]);
    EXPECT_EQ(r.frame_index(), i);
    EXPECT_TRUE(r.detected());  // the server default: the detector on every frame
    EXPECT_EQ(r.frame_width(), 360u);
    EXPECT_EQ(r.frame_height(), 288u);
    EXPECT_FALSE(r.personalized());
    ASSERT_EQ(r.face_found(), !want.empty());
    if (want.empty()) continue;
    ASSERT_EQ(r.faces_size(), 1);
    const fer::v1::FacePrediction& face = r.faces(0);
    EXPECT_EQ(face.top_label(), reference_->labels[want[0].TopLabel()]);
    ASSERT_EQ(face.probabilities_size(), 7);
    for (int c = 0; c < 7; ++c) {
      EXPECT_NEAR(face.probabilities(c).probability(), want[0].expressions[c], 1e-3);
    }
    EXPECT_NEAR(face.box().x(), want[0].box.x, 1.0);
    EXPECT_EQ(face.landmarks_size(), 68);
    EXPECT_TRUE(r.has_clip());
    EXPECT_LE(r.clip().frames(), 4u);
    EXPECT_GT(r.server_latency_us(), 0);
  }
}

TEST_F(StreamPredictE2eTest, RawPixelsGiveTheSameAnswerAsPng) {
  const std::string file = "franck_002400.png";
  absl::StatusOr<RgbImage> image = ReadImageFile(testing::FramesDir() + "/" + file);
  ASSERT_TRUE(image.ok());
  PredictRequest raw;
  fer::v1::RawImage* r = raw.mutable_frame()->mutable_raw();
  r->set_width(image->width);
  r->set_height(image->height);
  r->set_format(fer::v1::RawImage::RGB8);
  r->set_pixels(std::string(image->pixels.begin(), image->pixels.end()));
  const testing::PredictOutcome result = RunStream({raw});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.responses.size(), 1u);
  ASSERT_EQ(result.responses[0].faces_size(), 1);
  const testing::ReferenceFace& want = reference_->images.at(file)[0];
  EXPECT_EQ(result.responses[0].faces(0).top_label(), reference_->labels[want.TopLabel()]);
}

TEST_F(StreamPredictE2eTest, FrameWithoutFaceIsAnAnswerNotAnError) {
  RgbImage gray{320, 240, std::vector<uint8_t>(320 * 240 * 3, 128)};
  const testing::PredictOutcome result = RunStream({testing::FrameRequest(*EncodePng(gray))});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.responses.size(), 1u);
  EXPECT_FALSE(result.responses[0].face_found());
  EXPECT_EQ(result.responses[0].faces_size(), 0);
  EXPECT_FALSE(result.responses[0].has_clip());
}

TEST_F(StreamPredictE2eTest, DemoPhotoReportsEveryFaceLargestFirst) {
  // The original JPEG: the reference ran on its decoded pixels.
  PredictRequest request = testing::FrameRequest(testing::ReadFileContents(testing::DemoPhoto(5)));
  request.mutable_config()->set_max_faces(32);
  request.mutable_config()->set_include_features(true);
  const testing::PredictOutcome result = RunStream({request});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.responses.size(), 1u);
  const PredictResponse& r = result.responses[0];
  EXPECT_EQ(static_cast<size_t>(r.faces_size()), reference_->images.at("sample5.png").size());
  for (int i = 1; i < r.faces_size(); ++i) {
    EXPECT_GE(r.faces(i - 1).box().width() * r.faces(i - 1).box().height(),
              r.faces(i).box().width() * r.faces(i).box().height());
  }
  EXPECT_EQ(r.faces(0).features_size(), 256);
}

TEST_F(StreamPredictE2eTest, UserIdWithoutProfilesSaysGenericModelWasUsed) {
  PredictRequest request =
      testing::FrameRequest(testing::ReadFileContents(testing::FramesDir() + "/franck_000000.png"));
  request.mutable_config()->set_user_id("patient-17");
  const testing::PredictOutcome result = RunStream({request});
  ASSERT_TRUE(result.status.ok());
  ASSERT_EQ(result.responses.size(), 1u);
  EXPECT_FALSE(result.responses[0].personalized());
  EXPECT_NE(result.responses[0].personalization_note().find("generic model"), std::string::npos);
}

// Each bad input ends the stream with a clear status; the server stays up
// (checked in TearDown) and a good frame still works afterwards.
struct BadInput {
  const char* name;
  PredictRequest request;
  grpc::StatusCode code;
  const char* message;
};

std::vector<BadInput> BadInputs() {
  std::vector<BadInput> cases;
  std::string jpeg = testing::ReadFileContents(testing::DemoPhoto(1));
  cases.push_back({"corrupt_jpeg", testing::FrameRequest(jpeg.substr(0, 700)),
                   grpc::StatusCode::INVALID_ARGUMENT, "corrupt JPEG"});
  cases.push_back({"empty_bytes", testing::FrameRequest(""), grpc::StatusCode::INVALID_ARGUMENT,
                   "empty image bytes"});
  PredictRequest zero;
  zero.mutable_frame()->mutable_raw()->set_format(fer::v1::RawImage::RGB8);
  cases.push_back({"zero_sized_raw", zero, grpc::StatusCode::INVALID_ARGUMENT, "at least 1"});
  PredictRequest mismatch;
  mismatch.mutable_frame()->mutable_raw()->set_width(10);
  mismatch.mutable_frame()->mutable_raw()->set_height(10);
  mismatch.mutable_frame()->mutable_raw()->set_format(fer::v1::RawImage::RGB8);
  mismatch.mutable_frame()->mutable_raw()->set_pixels(std::string(299, 'x'));
  cases.push_back({"raw_byte_count", mismatch, grpc::StatusCode::INVALID_ARGUMENT, "needs 300"});
  std::string png = *EncodePng(RgbImage{4, 4, std::vector<uint8_t>(48, 9)});
  const unsigned char big[4] = {0x00, 0x00, 0x4E, 0x20};  // 20000
  png.replace(16, 4, reinterpret_cast<const char*>(big), 4);
  png.replace(20, 4, reinterpret_cast<const char*>(big), 4);
  cases.push_back({"huge_header", testing::FrameRequest(png), grpc::StatusCode::INVALID_ARGUMENT,
                   "20000x20000"});
  PredictRequest format = mismatch;
  format.mutable_frame()->mutable_raw()->set_format(fer::v1::RawImage::PIXEL_FORMAT_UNSPECIFIED);
  cases.push_back(
      {"pixel_format", format, grpc::StatusCode::INVALID_ARGUMENT, "unsupported pixel format"});
  cases.push_back({"oversize_message", testing::FrameRequest(std::string(2 << 20, 'x')),
                   grpc::StatusCode::RESOURCE_EXHAUSTED, ""});
  PredictRequest gif = testing::FrameRequest("GIF89a\x01\x00\x01\x00");
  cases.push_back(
      {"no_data", PredictRequest(), grpc::StatusCode::INVALID_ARGUMENT, "frame has no data"});
  cases.push_back({"gif", gif, grpc::StatusCode::INVALID_ARGUMENT, "unsupported image format"});
  return cases;
}

TEST_F(StreamPredictE2eTest, BadInputsGetClearStatusesAndTheServerStaysUp) {
  const std::string good = testing::ReadFileContents(testing::FramesDir() + "/franck_000000.png");
  for (const BadInput& bad : BadInputs()) {
    SCOPED_TRACE(bad.name);
    // A good frame first, then the bad one: the good answer arrives, then
    // the stream ends with the error.
    const testing::PredictOutcome result = RunStream({testing::FrameRequest(good), bad.request});
    EXPECT_EQ(result.status.error_code(), bad.code) << result.status.error_message();
    EXPECT_NE(result.status.error_message().find(bad.message), std::string::npos)
        << result.status.error_message();
    EXPECT_EQ(result.responses.size(), 1u);
    EXPECT_TRUE(server_->running()) << server_->Log();
  }
  const testing::PredictOutcome after = RunStream({testing::FrameRequest(good)});
  EXPECT_TRUE(after.status.ok());
  EXPECT_EQ(after.responses.size(), 1u);
}

// A call cut by its deadline while the server waits for the client's next
// message: the handler sees its reads end, as at a half-close. It must
// count the call as the client saw it, and an enrollment cut so must store
// nothing (the client will send its frames again).
TEST_F(StreamPredictE2eTest, CallsCutByTheirDeadlineCountAsSuchAndStoreNothing) {
  const std::string good = testing::ReadFileContents(testing::FramesDir() + "/franck_000000.png");
  auto count = [this](const std::string& rpc, const std::string& code) {
    return std::max(0.0, testing::MetricValue(
                             testing::ScrapeMetrics(server_->metrics_port()),
                             "ferserve_requests_total{code=\"" + code + "\",rpc=\"" + rpc + "\"}"));
  };
  // gRPC cancels such a call under the server when the client's own timer
  // fires, shortly before the server's: CANCELLED or DEADLINE_EXCEEDED.
  auto cut = [&count](const std::string& rpc) {
    return count(rpc, "DEADLINE_EXCEEDED") + count(rpc, "CANCELLED");
  };
  const double predict_ok = count("StreamPredict", "OK");
  const double predict_cut = cut("StreamPredict");
  const double enroll_ok = count("EnrollNeutral", "OK");
  const double enroll_cut = cut("EnrollNeutral");
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
    auto stream = stub_->StreamPredict(&context);
    ASSERT_TRUE(stream->Write(testing::FrameRequest(good)));
    PredictResponse response;
    ASSERT_TRUE(stream->Read(&response));
    EXPECT_FALSE(stream->Read(&response));  // no half-close: the deadline ends it
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
    fer::v1::EnrollResponse enrolled;
    auto writer = stub_->EnrollNeutral(&context, &enrolled);
    fer::v1::EnrollRequest request;
    request.set_user_id("deadline-user");
    request.mutable_frame()->set_encoded(good);
    ASSERT_TRUE(writer->Write(request));
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }
  // The server counts a call once its handler has returned, which may be
  // after the client saw gRPC's answer.
  testing::PollUntil(
      [&] {
        return cut("StreamPredict") >= predict_cut + 1 && cut("EnrollNeutral") >= enroll_cut + 1;
      },
      std::chrono::seconds(5), std::chrono::milliseconds(50));
  EXPECT_EQ(cut("StreamPredict"), predict_cut + 1);
  EXPECT_EQ(cut("EnrollNeutral"), enroll_cut + 1);
  EXPECT_EQ(count("StreamPredict", "OK"), predict_ok);
  EXPECT_EQ(count("EnrollNeutral", "OK"), enroll_ok);
  fer::v1::Profile profile;
  EXPECT_EQ(testing::GetProfile(stub_.get(), "deadline-user", &profile).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(StreamPredictE2eTest, BadStreamConfigIsRefusedBeforeAnyAnswer) {
  const std::string good = testing::ReadFileContents(testing::FramesDir() + "/franck_000000.png");
  struct Case {
    void (*set)(fer::v1::StreamConfig*);
    const char* message;
  } cases[] = {
      {[](fer::v1::StreamConfig* c) { c->set_clip_window(100000); }, "clip_window"},
      {[](fer::v1::StreamConfig* c) { c->set_min_face_score(1.5f); }, "min_face_score"},
      {[](fer::v1::StreamConfig* c) { c->set_max_faces(33); }, "max_faces"},
      {[](fer::v1::StreamConfig* c) { c->set_detection_interval(31); }, "detection_interval"},
      {[](fer::v1::StreamConfig* c) { c->set_max_frame_lag_ms(60001); }, "max_frame_lag_ms"},
  };
  for (const Case& c : cases) {
    PredictRequest request = testing::FrameRequest(good);
    c.set(request.mutable_config());
    const testing::PredictOutcome result = RunStream({request});
    EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(result.status.error_message().find(c.message), std::string::npos)
        << result.status.error_message();
    EXPECT_TRUE(result.responses.empty());
  }
}

TEST_F(StreamPredictE2eTest, StreamThatHalfClosesAtOnceEndsOk) {
  const testing::PredictOutcome result = RunStream({});
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_TRUE(result.responses.empty());
}

TEST_F(StreamPredictE2eTest, AdaptWithoutAPftBundleIsFailedPrecondition) {
  grpc::ClientContext context;
  fer::v1::AdaptRequest request;
  request.set_user_id("u1");
  auto reader = stub_->Adapt(&context, request);
  fer::v1::AdaptProgress progress;
  EXPECT_FALSE(reader->Read(&progress));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("--pft_bundle"), std::string::npos)
      << status.error_message();
}

TEST_F(StreamPredictE2eTest, MetricsCountRequestsFramesAndStages) {
  const std::string good = testing::ReadFileContents(testing::FramesDir() + "/franck_000000.png");
  ASSERT_TRUE(
      RunStream({testing::FrameRequest(good), testing::FrameRequest("")}).responses.size() == 1u);
  const std::string metrics = testing::HttpGet(server_->metrics_port(), "/metrics");
  for (const char* want :
       {"ferserve_requests_total{code=\"INVALID_ARGUMENT\",rpc=\"StreamPredict\"}",
        "ferserve_frame_stage_duration_seconds_bucket{stage=\"detection\"",
        "ferserve_frame_stage_duration_seconds_count{stage=\"queue\"}",
        "ferserve_frame_stage_duration_seconds_count{stage=\"backbone\"}",
        "ferserve_frame_stage_duration_seconds_count{stage=\"total\"}", "ferserve_frames_total",
        "ferserve_faces_total", "ferserve_inflight_streams 0", "ferserve_model_info{",
        "ferserve_serving 1"}) {
    EXPECT_NE(metrics.find(want), std::string::npos) << want << "\n" << metrics;
  }
  // Prometheus' own linter accepts the exposition.
  const std::string body = metrics.substr(metrics.find("\r\n\r\n") + 4);
  const std::string path = std::string(::testing::TempDir()) + "ferserve_metrics.txt";
  std::ofstream(path) << body;
  EXPECT_EQ(std::system(("promtool check metrics < " + path + " > " + path + ".lint 2>&1").c_str()),
            0)
      << testing::ReadFileContents(path + ".lint");
}

}  // namespace
}  // namespace fer
