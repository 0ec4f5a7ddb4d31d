#include "proto/grpc_code_name.h"

#include <grpcpp/support/status.h>

#include "gtest/gtest.h"

namespace fer {
namespace {

TEST(GrpcCodeNameTest, NamesEveryCanonicalCode) {
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::CANCELLED), "CANCELLED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::UNKNOWN), "UNKNOWN");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::INVALID_ARGUMENT), "INVALID_ARGUMENT");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::DEADLINE_EXCEEDED), "DEADLINE_EXCEEDED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::NOT_FOUND), "NOT_FOUND");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::ALREADY_EXISTS), "ALREADY_EXISTS");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::PERMISSION_DENIED), "PERMISSION_DENIED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::FAILED_PRECONDITION), "FAILED_PRECONDITION");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::ABORTED), "ABORTED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::OUT_OF_RANGE), "OUT_OF_RANGE");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::UNIMPLEMENTED), "UNIMPLEMENTED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::INTERNAL), "INTERNAL");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::UNAVAILABLE), "UNAVAILABLE");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::DATA_LOSS), "DATA_LOSS");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
}

// A metric label or message never comes out empty, whatever a peer sends.
TEST(GrpcCodeNameTest, CodeOutsideTheCanonicalSetIsUnknown) {
  EXPECT_EQ(GrpcCodeName(static_cast<grpc::StatusCode>(17)), "UNKNOWN");
  EXPECT_EQ(GrpcCodeName(static_cast<grpc::StatusCode>(-1)), "UNKNOWN");
}

}  // namespace
}  // namespace fer
