#ifndef FERSERVE_LIB_PFT_FACE_DATASET_H_
#define FERSERVE_LIB_PFT_FACE_DATASET_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/face_analyzer.h"
#include "lib/pft/feature_cache.h"
#include "lib/pft/segment_labels.h"
#include "lib/pft/source_subject.h"

namespace fer::pft {

// One file of a labelled face dataset laid out as
//
//   ROOT/<subject>/<label>/<frame>.jpg|jpeg|png   (every frame labelled by its folder)
//   ROOT/<subject>/<name>.mp4|avi|mov|webm|mkv    (labelled by segments of a CSV)
struct DatasetFile {
  std::string subject;
  std::string path;      // full path
  std::string relative;  // path under ROOT ("<subject>/<label>/x.png")
  bool is_video = false;
  std::string label;                      // images
  std::vector<LabelledSegment> segments;  // videos, in time order
};

struct FaceDataset {
  std::string root;
  std::vector<DatasetFile> files;              // sorted by relative path
  std::vector<std::string> unlabelled_videos;  // videos no segment names (not used)
};

// Lists the dataset's files and attaches the CSV's segments to the videos. A
// segment's `video` names a file under ROOT by its relative path
// ("franck/franck.mp4") or by its file name when that is unique. Errors
// (InvalidArgument, NotFound) name the offending path or CSV line: a missing
// root, a segment naming no video or several, files in the wrong place.
absl::StatusOr<FaceDataset> ScanFaceDataset(const std::string& root,
                                            const std::vector<LabelledSegment>& segments);

// Frame indices and times a video's segments are sampled at: times
// start_s + k / fps inside [start_s, end_s), each mapped to the frame shown
// then (floor(t · video_fps)); a frame taken twice is kept once.
struct SampledFrame {
  int64_t index = 0;
  float time_s = 0;
  std::string label;
};
std::vector<SampledFrame> SampleSegments(const std::vector<LabelledSegment>& segments,
                                         double sample_fps, double video_fps);

struct ExtractOptions {
  double sample_fps = 5;                        // video frames per second of labelled segment
  std::string cache_path;                       // empty: no cache
  AnalyzeOptions analyze;                       // detector settings (features are always computed)
  std::function<void(const std::string&)> log;  // progress lines; may be empty
};

struct ExtractSummary {
  int files_from_cache = 0;
  int files_extracted = 0;
  int frames = 0;               // frames looked at
  int frames_without_face = 0;  // of those, skipped
  int faces = 0;                // samples kept
  double seconds = 0;
};

// Features, landmarks and head pose of the largest face of every labelled
// frame. Files whose size, mtime and sampling match an entry of the cache
// written by the same backbone are taken from it; the others are extracted
// and the cache is rewritten (only when something changed).
absl::StatusOr<FeatureCache> ExtractFaceDataset(const FaceDataset& dataset, FaceAnalyzer& analyzer,
                                                const ExtractOptions& options,
                                                ExtractSummary* summary = nullptr);

// The analysis of `image` as one FaceSample (its largest face); NotFound when
// there is no face.
absl::StatusOr<FaceSample> AnalyzeLargestFace(FaceAnalyzer& analyzer, const RgbImage& image,
                                              const AnalyzeOptions& options);

// The cache's faces grouped by subject (sorted by id), frames in file then
// frame order, labels mapped to indices of `labels`; InvalidArgument for a
// label not in `labels`.
absl::StatusOr<std::vector<SourceSubject>> GroupBySubject(const FeatureCache& cache,
                                                          const std::vector<std::string>& labels);

}  // namespace fer::pft

#endif  // FERSERVE_LIB_PFT_FACE_DATASET_H_
