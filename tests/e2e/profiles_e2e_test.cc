// End-to-end: profiles (EnrollNeutral, GetProfile, DeleteProfile) on the real
// ferserve binary with a RocksDB store in a fresh temp folder.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "fer/v1/expression_service.grpc.pb.h"
#include "lib/vision/image_file.h"
#include "tests/e2e/ferserve_process.h"
#include "tests/e2e/personalization_client.h"
#include "tests/file_contents.h"
#include "tests/parity/reference_outputs.h"
#include "tests/process_temp_dir.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

using fer::v1::EnrollRequest;
using fer::v1::EnrollResponse;
using fer::v1::ExpressionService;
using fer::v1::FrameVerdict;
using testing::DeleteProfile;
using testing::GetProfile;

// A fresh, empty folder under the test's temp folder.
std::string FreshDir(const std::string& name) {
  const std::string dir = testing::ProcessTempDir() + "profiles_e2e_" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

// The franck frames the reference finds neutral.
std::vector<std::string> NeutralFrames() {
  std::vector<std::string> out;
  for (const char* n : {"000000", "000200", "000400", "000600", "000800"}) {
    out.push_back(testing::ReadFileContents(testing::FramesDir() + "/franck_" + n + ".png"));
  }
  return out;
}

std::string GrayPng() {
  RgbImage gray{320, 240, std::vector<uint8_t>(320 * 240 * 3, 128)};
  return *EncodePng(gray);
}

// franck_000000 blurred (Gaussian, sigma `sigma`) or scaled by `scale`.
std::string AlteredFranck(double sigma, double scale) {
  RgbImage image = *ReadImageFile(testing::FramesDir() + "/franck_000000.png");
  cv::Mat mat(image.height, image.width, CV_8UC3, image.pixels.data());
  cv::Mat out;
  if (sigma > 0) {
    cv::GaussianBlur(mat, out, cv::Size(0, 0), sigma);
  } else {
    cv::resize(mat, out, cv::Size(), scale, scale, cv::INTER_AREA);
  }
  RgbImage altered{out.cols, out.rows,
                   std::vector<uint8_t>(out.data, out.data + out.total() * out.elemSize())};
  return *EncodePng(altered);
}

EnrollRequest Frame(const std::string& user_id, std::string bytes) {
  EnrollRequest request;
  request.set_user_id(user_id);
  request.mutable_frame()->set_encoded(std::move(bytes));
  return request;
}

struct EnrollResult {
  EnrollResponse response;
  grpc::Status status;
};

EnrollResult Enroll(ExpressionService::Stub* stub, const std::vector<EnrollRequest>& requests) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  EnrollResult result;
  auto writer = stub->EnrollNeutral(&context, &result.response);
  for (const EnrollRequest& request : requests) {
    if (!writer->Write(request)) break;
  }
  writer->WritesDone();
  result.status = writer->Finish();
  return result;
}

EnrollResult EnrollNeutral(ExpressionService::Stub* stub, const std::string& user_id, int frames) {
  const std::vector<std::string> neutral = NeutralFrames();
  std::vector<EnrollRequest> requests;
  for (int i = 0; i < frames; ++i) requests.push_back(Frame(user_id, neutral[i % neutral.size()]));
  return Enroll(stub, requests);
}

class ProfilesE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    store_dir_ = new std::string(FreshDir("suite"));
    server_ = new testing::FerserveProcess({"--store=rocksdb://" + *store_dir_});
  }
  static void TearDownTestSuite() {
    delete server_;
    std::filesystem::remove_all(*store_dir_);
    delete store_dir_;
  }
  void SetUp() override {
    ASSERT_TRUE(server_->ok()) << server_->Log();
    stub_ = ExpressionService::NewStub(server_->channel());
  }
  void TearDown() override { EXPECT_TRUE(server_->running()) << server_->Log(); }

  static std::string* store_dir_;
  static testing::FerserveProcess* server_;
  std::unique_ptr<ExpressionService::Stub> stub_;
};

std::string* ProfilesE2eTest::store_dir_ = nullptr;
testing::FerserveProcess* ProfilesE2eTest::server_ = nullptr;

TEST_F(ProfilesE2eTest, StartupLineSaysRecordsAreNotEncrypted) {
  const std::string log = server_->Log();
  EXPECT_NE(log.find("profile store rocksdb"), std::string::npos) << log;
  EXPECT_NE(log.find("NOT encrypted"), std::string::npos) << log;
}

TEST_F(ProfilesE2eTest, EnrollsNeutralFramesAndGetProfileCountsThem) {
  const EnrollResult result = EnrollNeutral(stub_.get(), "franck", 10);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.user_id(), "franck");
  EXPECT_EQ(result.response.accepted(), 10u);
  EXPECT_EQ(result.response.rejected(), 0u);
  EXPECT_EQ(result.response.enrolled_features(), 10u);
  // Neutral frames: no verdicts (no rejections, no warnings).
  for (const FrameVerdict& v : result.response.verdicts()) {
    ADD_FAILURE() << "frame " << v.frame_index() << ": " << FrameVerdict::Reason_Name(v.reason())
                  << " " << v.detail();
  }

  fer::v1::Profile profile;
  const grpc::Status status = GetProfile(stub_.get(), "franck", &profile);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(profile.user_id(), "franck");
  EXPECT_EQ(profile.enrolled_features(), 10u);
  EXPECT_EQ(profile.version(), 0u);  // Never adapted.
  EXPECT_GT(profile.created_unix_ms(), 0);
  EXPECT_GE(profile.updated_unix_ms(), profile.created_unix_ms());
  EXPECT_EQ(profile.adapted_unix_ms(), 0);
  grpc::ClientContext context;
  fer::v1::ModelInfo info;
  ASSERT_TRUE(stub_->GetModelInfo(&context, {}, &info).ok());
  EXPECT_EQ(profile.backbone_id(), info.backbone_id());

  // A second enrollment adds to the bank.
  const EnrollResult more = EnrollNeutral(stub_.get(), "franck", 3);
  ASSERT_TRUE(more.status.ok()) << more.status.error_message();
  EXPECT_EQ(more.response.enrolled_features(), 13u);
  ASSERT_TRUE(GetProfile(stub_.get(), "franck", &profile).ok());
  EXPECT_EQ(profile.enrolled_features(), 13u);

  // An enrollment that keeps no frame changes nothing and still answers how
  // many features the user has.
  const EnrollResult none = Enroll(stub_.get(), {Frame("franck", GrayPng())});
  ASSERT_TRUE(none.status.ok()) << none.status.error_message();
  EXPECT_EQ(none.response.accepted(), 0u);
  EXPECT_EQ(none.response.enrolled_features(), 13u);
}

TEST_F(ProfilesE2eTest, BadFramesGetAVerdictEach) {
  const EnrollResult result =
      Enroll(stub_.get(), {Frame("mixed", GrayPng()),
                           Frame("mixed", testing::ReadFileContents(testing::DemoPhoto(5))),
                           Frame("mixed", NeutralFrames()[0]), Frame("mixed", "not an image")});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.accepted(), 1u);
  EXPECT_EQ(result.response.rejected(), 3u);
  EXPECT_EQ(result.response.enrolled_features(), 1u);
  ASSERT_EQ(result.response.verdicts_size(), 3);
  EXPECT_EQ(result.response.verdicts(0).frame_index(), 0u);
  EXPECT_EQ(result.response.verdicts(0).reason(), FrameVerdict::NO_FACE);
  EXPECT_EQ(result.response.verdicts(1).frame_index(), 1u);
  EXPECT_EQ(result.response.verdicts(1).reason(), FrameVerdict::MULTIPLE_FACES)
      << result.response.verdicts(1).detail();
  EXPECT_EQ(result.response.verdicts(2).frame_index(), 3u);
  EXPECT_EQ(result.response.verdicts(2).reason(), FrameVerdict::UNDECODABLE);
  EXPECT_FALSE(result.response.verdicts(2).detail().empty());
}

TEST_F(ProfilesE2eTest, BlurryAndSmallFacesAreRejected) {
  const EnrollResult result = Enroll(stub_.get(), {Frame("altered", AlteredFranck(2, 0)),
                                                   Frame("altered", AlteredFranck(0, 0.3))});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  ASSERT_EQ(result.response.verdicts_size(), 2);
  EXPECT_EQ(result.response.verdicts(0).reason(), FrameVerdict::TOO_BLURRY)
      << FrameVerdict::Reason_Name(result.response.verdicts(0).reason()) << " "
      << result.response.verdicts(0).detail();
  EXPECT_EQ(result.response.verdicts(1).reason(), FrameVerdict::FACE_TOO_SMALL)
      << FrameVerdict::Reason_Name(result.response.verdicts(1).reason()) << " "
      << result.response.verdicts(1).detail();
  EXPECT_EQ(result.response.enrolled_features(), 0u);
}

// franck smiles in the first seconds of franck.mp4: by default those frames
// are kept with a warning; a server with --enroll_min_neutral_probability
// rejects exactly the frames below it as NOT_NEUTRAL and stores the rest.
TEST_F(ProfilesE2eTest, AMinimumNeutralProbabilityRejectsTheWarnedFrames) {
  std::vector<EnrollRequest> requests;
  for (std::string& frame : testing::VideoFrames("franck.mp4", 0, 8, 12)) {
    requests.push_back(Frame("smiling", std::move(frame)));
  }
  ASSERT_EQ(requests.size(), 8u);
  const EnrollResult lenient = Enroll(stub_.get(), requests);
  ASSERT_TRUE(lenient.status.ok()) << lenient.status.error_message();
  std::vector<uint64_t> warned;
  for (const FrameVerdict& v : lenient.response.verdicts()) {
    if (v.reason() != FrameVerdict::ACCEPTED) continue;
    EXPECT_LT(v.neutral_probability(), 0.5f);
    EXPECT_EQ(v.detail().rfind("warning: ", 0), 0u) << v.detail();
    warned.push_back(v.frame_index());
  }
  ASSERT_GE(warned.size(), 1u) << "no frame of the opening seconds looks non-neutral";

  const std::string store = FreshDir("strict");
  testing::FerserveProcess strict(
      {"--store=rocksdb://" + store, "--enroll_min_neutral_probability=0.5"});
  ASSERT_TRUE(strict.ok()) << strict.Log();
  EXPECT_NE(strict.Log().find("ferserve: EnrollNeutral rejects frames whose neutral probability "
                              "is below 0.50 (NOT_NEUTRAL)\n"),
            std::string::npos)
      << strict.Log();
  EXPECT_EQ(server_->Log().find("EnrollNeutral rejects"), std::string::npos) << server_->Log();
  auto strict_stub = ExpressionService::NewStub(strict.channel());
  const EnrollResult result = Enroll(strict_stub.get(), requests);
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  std::vector<uint64_t> not_neutral;
  for (const FrameVerdict& v : result.response.verdicts()) {
    EXPECT_NE(v.reason(), FrameVerdict::ACCEPTED) << "a warned frame was kept: " << v.detail();
    if (v.reason() != FrameVerdict::NOT_NEUTRAL) continue;
    EXPECT_NE(v.detail().find("not neutral: neutral probability"), std::string::npos) << v.detail();
    EXPECT_NE(v.detail().find("minimum 0.50"), std::string::npos) << v.detail();
    not_neutral.push_back(v.frame_index());
  }
  EXPECT_EQ(not_neutral, warned);
  EXPECT_EQ(result.response.accepted(), lenient.response.accepted() - warned.size());
  EXPECT_EQ(result.response.enrolled_features(), result.response.accepted());
}

TEST_F(ProfilesE2eTest, AStreamWithNoAcceptedFrameStoresNothing) {
  const EnrollResult result = Enroll(stub_.get(), {Frame("nobody", GrayPng())});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.response.accepted(), 0u);
  EXPECT_EQ(result.response.rejected(), 1u);
  EXPECT_EQ(result.response.enrolled_features(), 0u);
  fer::v1::Profile profile;
  EXPECT_EQ(GetProfile(stub_.get(), "nobody", &profile).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ProfilesE2eTest, UserIdMustBeGivenAndStayTheSame) {
  const std::vector<std::string> neutral = NeutralFrames();
  EnrollResult result = Enroll(stub_.get(), {Frame("alice", neutral[0]), Frame("bob", neutral[1])});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(result.status.error_message().find("differs"), std::string::npos)
      << result.status.error_message();

  result = Enroll(stub_.get(), {Frame("", neutral[0])});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  result = Enroll(stub_.get(), {Frame("bad/id", neutral[0])});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  result = Enroll(stub_.get(), {});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ProfilesE2eTest, DeleteRemovesEveryRecord) {
  ASSERT_TRUE(EnrollNeutral(stub_.get(), "erase-me", 2).status.ok());
  fer::v1::Profile profile;
  ASSERT_TRUE(GetProfile(stub_.get(), "erase-me", &profile).ok());

  fer::v1::DeleteProfileResponse deleted;
  const grpc::Status status = DeleteProfile(stub_.get(), "erase-me", &deleted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(deleted.user_id(), "erase-me");
  EXPECT_GE(deleted.records_deleted(), 2u);  // meta and features

  const grpc::Status get = GetProfile(stub_.get(), "erase-me", &profile);
  EXPECT_EQ(get.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(get.error_message().find("no profile for user"), std::string::npos)
      << get.error_message();
  EXPECT_EQ(DeleteProfile(stub_.get(), "erase-me", &deleted).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ProfilesE2eTest, UnknownUserIsNotFoundAndABadIdIsInvalid) {
  fer::v1::Profile profile;
  grpc::Status status = GetProfile(stub_.get(), "never-enrolled", &profile);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("no profile for user \"never-enrolled\""),
            std::string::npos)
      << status.error_message();
  fer::v1::DeleteProfileResponse deleted;
  EXPECT_EQ(DeleteProfile(stub_.get(), "never-enrolled", &deleted).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetProfile(stub_.get(), "", &profile).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(GetProfile(stub_.get(), "a/b", &profile).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(DeleteProfile(stub_.get(), "a b", &deleted).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// A server of its own: killed and started again on the same store folder,
// with records encrypted at rest.
TEST(ProfilesRestartE2eTest, ProfilesSurviveARestartEncrypted) {
  const std::string dir = FreshDir("restart");
  const std::string key_file = dir + ".key";
  {
    std::ofstream key(key_file);
    key << std::string(64, 'a') << "\n";
  }
  const std::vector<std::string> flags = {"--store=rocksdb://" + dir,
                                          "--store_key_file=" + key_file};
  {
    testing::FerserveProcess server(flags);
    ASSERT_TRUE(server.ok()) << server.Log();
    EXPECT_NE(server.Log().find("AES-256-GCM"), std::string::npos) << server.Log();
    auto stub = ExpressionService::NewStub(server.channel());
    const EnrollResult result = EnrollNeutral(stub.get(), "persistent", 4);
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
    ASSERT_EQ(result.response.enrolled_features(), 4u);
  }
  {
    testing::FerserveProcess server(flags);
    ASSERT_TRUE(server.ok()) << server.Log();
    auto stub = ExpressionService::NewStub(server.channel());
    fer::v1::Profile profile;
    const grpc::Status status = GetProfile(stub.get(), "persistent", &profile);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(profile.enrolled_features(), 4u);
  }
  {
    // Without the key the records are not readable, and the error says so.
    testing::FerserveProcess server({"--store=rocksdb://" + dir});
    ASSERT_TRUE(server.ok()) << server.Log();
    auto stub = ExpressionService::NewStub(server.channel());
    fer::v1::Profile profile;
    const grpc::Status status = GetProfile(stub.get(), "persistent", &profile);
    EXPECT_FALSE(status.ok());
    EXPECT_NE(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove(key_file);
}

// Key rotation: the old key kept for reading, every record sealed again with
// the new key while serving, then the old key dropped.
TEST(ProfilesRestartE2eTest, KeyRotationSealsEveryRecordWithTheNewKey) {
  const std::string dir = FreshDir("rotation");
  const std::string old_key = dir + ".old.key";
  const std::string new_key = dir + ".new.key";
  std::ofstream(old_key) << std::string(64, 'a') << "\n";
  std::ofstream(new_key) << std::string(64, 'b') << "\n";
  const std::string store = "--store=rocksdb://" + dir;
  {
    testing::FerserveProcess server({store, "--store_key_file=" + old_key});
    ASSERT_TRUE(server.ok()) << server.Log();
    auto stub = ExpressionService::NewStub(server.channel());
    const EnrollResult result = EnrollNeutral(stub.get(), "rotated", 3);
    ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  }
  {
    // The new key alone cannot read the old records yet.
    testing::FerserveProcess server({store, "--store_key_file=" + new_key});
    ASSERT_TRUE(server.ok()) << server.Log();
    auto stub = ExpressionService::NewStub(server.channel());
    fer::v1::Profile profile;
    const grpc::Status status = GetProfile(stub.get(), "rotated", &profile);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  }
  {
    testing::FerserveProcess server({store, "--store_key_file=" + new_key,
                                     "--store_previous_key_files=" + old_key, "--store_reseal"});
    ASSERT_TRUE(server.ok()) << server.Log();
    EXPECT_NE(server.Log().find("(older records also with sha256:"), std::string::npos)
        << server.Log();
    const std::string log = server.LogOnceItHas("store: resealed");
    EXPECT_NE(log.find("store: resealed 1 profiles: 2 of 2 records sealed again"),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("older keys are no longer needed"), std::string::npos) << log;
  }
  {
    testing::FerserveProcess server({store, "--store_key_file=" + new_key});
    ASSERT_TRUE(server.ok()) << server.Log();
    auto stub = ExpressionService::NewStub(server.channel());
    fer::v1::Profile profile;
    const grpc::Status status = GetProfile(stub.get(), "rotated", &profile);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(profile.enrolled_features(), 3u);
    // The feature bank opens too: enrolling appends to it.
    const EnrollResult more = EnrollNeutral(stub.get(), "rotated", 1);
    ASSERT_TRUE(more.status.ok()) << more.status.error_message();
    EXPECT_EQ(more.response.enrolled_features(), 4u);
  }
  {
    // A previous key file that cannot be read stops the server.
    testing::FerserveProcess server({store, "--store_key_file=" + new_key,
                                     "--store_previous_key_files=" + dir + ".missing.key"});
    EXPECT_FALSE(server.ok());
    server.WaitExit(std::chrono::seconds(30));
    EXPECT_NE(server.Log().find(".missing.key"), std::string::npos) << server.Log();
  }
  std::filesystem::remove_all(dir);
  std::filesystem::remove(old_key);
  std::filesystem::remove(new_key);
}

TEST(ProfilesStartupE2eTest, AStoreThatCannotOpenStopsTheServer) {
  testing::FerserveProcess server({"--store=rocksdb:///proc/ferserve_no_store_here"});
  EXPECT_FALSE(server.ok());
  const int status = server.WaitExit(std::chrono::seconds(30));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status;
  EXPECT_NE(server.Log().find("cannot open the profile store"), std::string::npos) << server.Log();
}

}  // namespace
}  // namespace fer
