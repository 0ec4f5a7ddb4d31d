#include "lib/pft/model_bundle.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fer::pft {
namespace {

TEST(CheckBundleFitsBackboneTest, OnlyTheBackboneItWasTrainedFor) {
  ModelBundle bundle{*Translator::Create(4, 6, 1)};
  bundle.backbone_id = "face-api";
  bundle.feature_dim = 4;
  bundle.labels = {"neutral", "happy"};
  const std::vector<std::string> labels = {"neutral", "happy"};
  EXPECT_TRUE(CheckBundleFitsBackbone(bundle, "face-api", 4, labels).ok());

  const absl::Status other_backbone = CheckBundleFitsBackbone(bundle, "clip", 4, labels);
  EXPECT_EQ(other_backbone.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other_backbone.message().find("trained for backbone face-api (4-d, 2 labels), not "
                                          "clip (4-d, 2 labels)"),
            std::string::npos)
      << other_backbone;
  EXPECT_EQ(CheckBundleFitsBackbone(bundle, "face-api", 8, labels).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckBundleFitsBackbone(bundle, "face-api", 4, {"happy", "neutral"}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckBundleFitsBackbone(bundle, "face-api", 4, {"neutral", "happy", "sad"}).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace fer::pft
