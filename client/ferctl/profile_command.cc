// ferctl profile get|delete --user U: a user's profile metadata, or erasure
// of everything stored for the user.
#include <cstdio>
#include <ctime>

#include "absl/strings/str_format.h"
#include "client/ferctl/commands.h"
#include "client/ferctl/exit_codes.h"
#include "client/ferctl/quality_report.h"

namespace ferctl {
namespace {

std::string UtcTime(int64_t unix_ms) {
  if (unix_ms <= 0) return "never";
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

int GetProfile(const Connection& connection, const std::string& user) {
  auto stub = connection.NewStub();
  auto context = connection.NewContext(kUnaryDeadlineSeconds);
  fer::v1::GetProfileRequest request;
  request.set_user_id(user);
  fer::v1::Profile profile;
  const grpc::Status status = stub->GetProfile(context.get(), request, &profile);
  if (!status.ok()) return FailCall("profile get " + user, status, connection.address());
  std::printf("user               %s\n", profile.user_id().c_str());
  std::printf("version            %llu%s\n", static_cast<unsigned long long>(profile.version()),
              profile.version() == 0 ? " (never adapted)" : "");
  std::printf("enrolled_features  %u\n", profile.enrolled_features());
  std::printf("created            %s\n", UtcTime(profile.created_unix_ms()).c_str());
  std::printf("updated            %s\n", UtcTime(profile.updated_unix_ms()).c_str());
  std::printf("adapted            %s\n", UtcTime(profile.adapted_unix_ms()).c_str());
  std::printf("backbone           %s\n", profile.backbone_id().c_str());
  if (profile.has_last_report()) PrintQualityReport(profile.last_report());
  return kOk;
}

int DeleteProfile(const Connection& connection, const std::string& user) {
  auto stub = connection.NewStub();
  auto context = connection.NewContext(kUnaryDeadlineSeconds);
  fer::v1::DeleteProfileRequest request;
  request.set_user_id(user);
  fer::v1::DeleteProfileResponse response;
  const grpc::Status status = stub->DeleteProfile(context.get(), request, &response);
  if (!status.ok()) return FailCall("profile delete " + user, status, connection.address());
  std::printf("deleted user %s: %u records\n", response.user_id().c_str(),
              response.records_deleted());
  return kOk;
}

}  // namespace

int RunProfile(const Connection& connection, const Args& args) {
  if (args.size() != 1 || (args[0] != "get" && args[0] != "delete")) {
    return Fail(kUsage, "usage: ferctl profile get|delete --user USER");
  }
  std::string user;
  if (!RequireUser("profile", &user)) return kUsage;
  return args[0] == "get" ? GetProfile(connection, user) : DeleteProfile(connection, user);
}

}  // namespace ferctl
