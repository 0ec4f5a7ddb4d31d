#ifndef FERSERVE_SERVER_EXPRESSION_SERVICE_H_
#define FERSERVE_SERVER_EXPRESSION_SERVICE_H_

#include <string>
#include <vector>

#include "fer/v1/expression_service.grpc.pb.h"
#include "lib/metrics/server_metrics.h"
#include "lib/model/face_analyzer.h"
#include "lib/serving/enrollment_checks.h"
#include "lib/serving/inference_gate.h"
#include "lib/serving/stream_admission.h"
#include "lib/store/profile_store.h"
#include "lib/vision/frame_decoder.h"

namespace fer {

struct ExpressionServiceOptions {
  FrameLimits frame_limits;
  int default_clip_window = 16;
  float default_min_face_score = 0.5f;
  std::string server_version;
  EnrollmentCheckOptions enrollment;
};

// fer.v1.ExpressionService on the synchronous gRPC API: each streaming call
// runs on a server thread; model executions pass through an InferenceGate.
class ExpressionService final : public fer::v1::ExpressionService::Service {
 public:
  // None of the pointers is owned; all must outlive the service. `store`
  // holds the users' profiles.
  ExpressionService(FaceAnalyzer* analyzer, ServerMetrics* metrics, StreamAdmission* admission,
                    InferenceGate* gate, ProfileStore* store, ExpressionServiceOptions options);

  grpc::Status StreamPredict(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<fer::v1::PredictResponse, fer::v1::PredictRequest>* stream) override;
  grpc::Status GetModelInfo(grpc::ServerContext* context, const fer::v1::GetModelInfoRequest*,
                            fer::v1::ModelInfo* info) override;
  grpc::Status EnrollNeutral(grpc::ServerContext* context,
                             grpc::ServerReader<fer::v1::EnrollRequest>* reader,
                             fer::v1::EnrollResponse* response) override;
  grpc::Status Adapt(grpc::ServerContext* context, const fer::v1::AdaptRequest* request,
                     grpc::ServerWriter<fer::v1::AdaptProgress>* writer) override;
  grpc::Status GetProfile(grpc::ServerContext* context, const fer::v1::GetProfileRequest* request,
                          fer::v1::Profile* profile) override;
  grpc::Status DeleteProfile(grpc::ServerContext* context,
                             const fer::v1::DeleteProfileRequest* request,
                             fer::v1::DeleteProfileResponse* response) override;

 private:
  struct StreamSettings;

  grpc::Status StreamPredictImpl(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<fer::v1::PredictResponse, fer::v1::PredictRequest>* stream);
  absl::StatusOr<StreamSettings> SettingsFrom(const fer::v1::StreamConfig& config) const;
  absl::StatusOr<RgbImage> DecodeFrame(const fer::v1::Frame& frame) const;
  grpc::Status Finish(const char* rpc, grpc::Status status);
  grpc::Status EnrollNeutralImpl(grpc::ServerContext* context,
                                 grpc::ServerReader<fer::v1::EnrollRequest>* reader,
                                 fer::v1::EnrollResponse* response);
  // Runs the models on one frame, waiting for the gate until the deadline
  // (DeadlineExceeded); the wait is stored in *queue_seconds when not null.
  absl::StatusOr<std::vector<FaceAnalysis>> AnalyzeFrame(grpc::ServerContext* context,
                                                         const RgbImage& image,
                                                         const AnalyzeOptions& analyze,
                                                         double* queue_seconds = nullptr);

  FaceAnalyzer* analyzer_;
  ServerMetrics* metrics_;
  StreamAdmission* admission_;
  InferenceGate* gate_;
  ProfileStore* store_;
  ExpressionServiceOptions options_;
  int neutral_index_ = -1;  // Of the neutral label in analyzer_->labels().
};

}  // namespace fer

#endif  // FERSERVE_SERVER_EXPRESSION_SERVICE_H_
