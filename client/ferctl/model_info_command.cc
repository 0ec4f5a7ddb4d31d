// ferctl model info: what the server serves.
#include <cstdio>

#include "absl/strings/str_join.h"
#include "client/ferctl/commands.h"
#include "client/ferctl/exit_codes.h"

namespace ferctl {

int RunModelInfo(const Connection& connection, const Args& args) {
  if (args.size() != 1 || args[0] != "info") {
    return Fail(kUsage, "usage: ferctl model info");
  }
  auto stub = connection.NewStub();
  auto context = connection.NewContext(kUnaryDeadlineSeconds);
  fer::v1::ModelInfo info;
  const grpc::Status status = stub->GetModelInfo(context.get(), {}, &info);
  if (!status.ok()) return FailCall("model info", status, connection.address());
  std::printf("backbone               %s\n", info.backbone_id().c_str());
  std::printf("labels                 %s\n", absl::StrJoin(info.labels(), " ").c_str());
  std::printf("feature_dim            %u\n", info.feature_dim());
  std::printf("input_size             %u\n", info.input_size());
  std::printf("clip_frames            %u\n", info.clip_frames());
  std::printf("detector               %s\n", info.detector().c_str());
  std::printf("device                 %s\n", info.device().c_str());
  std::printf("server_version         %s\n", info.server_version().c_str());
  std::printf("translator_parameters  %llu\n",
              static_cast<unsigned long long>(info.translator_parameters()));
  return kOk;
}

}  // namespace ferctl
