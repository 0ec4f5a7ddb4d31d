#include "lib/pft/face_dataset.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/model/status_macros.h"
#include "lib/pft/face_pose.h"
#include "lib/vision/image_file.h"
#include "lib/vision/video_reader.h"

namespace fer::pft {
namespace {

namespace fs = std::filesystem;

bool HasExtension(const fs::path& path, std::initializer_list<const char*> extensions) {
  const std::string ext = absl::AsciiStrToLower(path.extension().string());
  for (const char* e : extensions) {
    if (ext == e) return true;
  }
  return false;
}

bool IsImage(const fs::path& p) { return HasExtension(p, {".jpg", ".jpeg", ".png"}); }
bool IsVideo(const fs::path& p) {
  return HasExtension(p, {".mp4", ".avi", ".mov", ".webm", ".mkv"});
}

// What, besides the file itself, decides which frames an entry holds.
std::string SamplingKey(const DatasetFile& file, double sample_fps) {
  if (!file.is_video) return absl::StrCat("image label=", file.label);
  std::string key = absl::StrFormat("video fps=%g", sample_fps);
  for (const LabelledSegment& s : file.segments) {
    absl::StrAppendFormat(&key, " %s[%g,%g)", s.label, s.start_s, s.end_s);
  }
  return key;
}

struct FileVersion {
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

absl::StatusOr<FileVersion> VersionOf(const std::string& path) {
  std::error_code error;
  FileVersion v;
  v.size = static_cast<int64_t>(fs::file_size(path, error));
  if (error) return absl::NotFoundError(absl::StrCat("cannot stat ", path, ": ", error.message()));
  const auto mtime = fs::last_write_time(path, error);
  if (error) return absl::NotFoundError(absl::StrCat("cannot stat ", path, ": ", error.message()));
  v.mtime_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count();
  return v;
}

void Log(const ExtractOptions& options, const std::string& line) {
  if (options.log) options.log(line);
}

absl::Status ExtractImage(const DatasetFile& file, FaceAnalyzer& analyzer,
                          const ExtractOptions& options, SourceFaces& out) {
  FER_ASSIGN_OR_RETURN(const RgbImage image, ReadImageFile(file.path));
  out.frames = 1;
  absl::StatusOr<FaceSample> face = AnalyzeLargestFace(analyzer, image, options.analyze);
  if (absl::IsNotFound(face.status())) {
    out.frames_without_face = 1;
    return absl::OkStatus();
  }
  if (!face.ok()) return face.status();
  face->subject = file.subject;
  face->label = file.label;
  out.faces.push_back(*std::move(face));
  return absl::OkStatus();
}

absl::Status ExtractVideo(const DatasetFile& file, FaceAnalyzer& analyzer,
                          const ExtractOptions& options, SourceFaces& out) {
  FER_ASSIGN_OR_RETURN(std::unique_ptr<VideoReader> reader, VideoReader::Open(file.path));
  if (!(reader->fps() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(file.path, ": the video reports no frame rate"));
  }
  for (const SampledFrame& frame :
       SampleSegments(file.segments, options.sample_fps, reader->fps())) {
    if (frame.index < reader->position()) continue;
    if (!reader->Skip(static_cast<int>(frame.index - reader->position()))) break;
    absl::StatusOr<RgbImage> image = reader->Next();
    if (absl::IsOutOfRange(image.status())) break;  // segments past the end of the video
    if (!image.ok()) return image.status();
    out.frames++;
    absl::StatusOr<FaceSample> face = AnalyzeLargestFace(analyzer, *image, options.analyze);
    if (absl::IsNotFound(face.status())) {
      out.frames_without_face++;
      continue;
    }
    if (!face.ok()) return face.status();
    face->subject = file.subject;
    face->label = frame.label;
    face->frame_index = frame.index;
    face->time_s = frame.time_s;
    out.faces.push_back(*std::move(face));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FaceDataset> ScanFaceDataset(const std::string& root,
                                            const std::vector<LabelledSegment>& segments) {
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return absl::NotFoundError(absl::StrCat("dataset root ", root, " is not a folder"));
  }
  FaceDataset dataset;
  dataset.root = root;
  // Relative paths are lexical (a symlinked video keeps its name under ROOT).
  fs::path base = fs::path(root).lexically_normal();
  if (!base.has_filename()) base = base.parent_path();
  for (const fs::directory_entry& subject_dir : fs::directory_iterator(base)) {
    if (!subject_dir.is_directory()) continue;
    const std::string subject = subject_dir.path().filename().string();
    if (subject.empty() || subject[0] == '.') continue;
    for (const fs::directory_entry& entry : fs::directory_iterator(subject_dir.path())) {
      const fs::path& p = entry.path();
      if (p.filename().string()[0] == '.') continue;
      if (entry.is_directory()) {
        for (const fs::directory_entry& frame : fs::directory_iterator(p)) {
          if (!frame.is_regular_file() || !IsImage(frame.path())) continue;
          DatasetFile file;
          file.subject = subject;
          file.label = p.filename().string();
          file.path = frame.path().string();
          file.relative = frame.path().lexically_relative(base).generic_string();
          dataset.files.push_back(std::move(file));
        }
      } else if (IsVideo(p)) {
        DatasetFile file;
        file.subject = subject;
        file.is_video = true;
        file.path = p.string();
        file.relative = p.lexically_relative(base).generic_string();
        dataset.files.push_back(std::move(file));
      } else if (IsImage(p)) {
        return absl::InvalidArgumentError(
            absl::StrCat(p.string(),
                         ": an image directly under a subject folder has no label; "
                         "put it in ",
                         subject, "/<label>/"));
      }
    }
  }
  std::sort(dataset.files.begin(), dataset.files.end(),
            [](const DatasetFile& a, const DatasetFile& b) { return a.relative < b.relative; });

  for (const LabelledSegment& segment : segments) {
    DatasetFile* match = nullptr;
    int matches = 0;
    for (DatasetFile& file : dataset.files) {
      if (!file.is_video) continue;
      if (file.relative == segment.video ||
          fs::path(file.relative).filename().string() == segment.video) {
        match = &file;
        ++matches;
      }
    }
    if (matches == 0) {
      return absl::NotFoundError(absl::StrFormat(
          "segment labels line %d: no video \"%s\" under %s (expected %s/<subject>/%s)",
          segment.line, segment.video, root, root, segment.video));
    }
    if (matches > 1) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "segment labels line %d: \"%s\" names %d videos; use the path under the root, e.g. "
          "<subject>/%s",
          segment.line, segment.video, matches, segment.video));
    }
    match->segments.push_back(segment);
  }
  std::vector<DatasetFile> kept;
  for (DatasetFile& file : dataset.files) {
    if (file.is_video && file.segments.empty()) {
      dataset.unlabelled_videos.push_back(file.relative);
      continue;
    }
    std::sort(
        file.segments.begin(), file.segments.end(),
        [](const LabelledSegment& a, const LabelledSegment& b) { return a.start_s < b.start_s; });
    kept.push_back(std::move(file));
  }
  dataset.files = std::move(kept);
  return dataset;
}

std::vector<SampledFrame> SampleSegments(const std::vector<LabelledSegment>& segments,
                                         double sample_fps, double video_fps) {
  std::vector<SampledFrame> frames;
  if (!(sample_fps > 0) || !(video_fps > 0)) return frames;
  for (const LabelledSegment& s : segments) {
    for (int64_t k = 0;; ++k) {
      const double t = s.start_s + static_cast<double>(k) / sample_fps;
      if (t >= s.end_s) break;
      SampledFrame f;
      f.index = static_cast<int64_t>(std::floor(t * video_fps + 1e-6));
      f.time_s = static_cast<float>(t);
      f.label = s.label;
      if (!frames.empty() && frames.back().index >= f.index) continue;
      frames.push_back(std::move(f));
    }
  }
  return frames;
}

absl::StatusOr<FaceSample> AnalyzeLargestFace(FaceAnalyzer& analyzer, const RgbImage& image,
                                              const AnalyzeOptions& options) {
  AnalyzeOptions with_features = options;
  with_features.with_features = true;
  FER_ASSIGN_OR_RETURN(const std::vector<FaceAnalysis> faces,
                       analyzer.Analyze(image, with_features));
  const FaceAnalysis* largest = nullptr;
  for (const FaceAnalysis& face : faces) {
    if (largest == nullptr || face.detection.box.area() > largest->detection.box.area()) {
      largest = &face;
    }
  }
  if (largest == nullptr) return absl::NotFoundError("no face");
  if (largest->landmarks.size() != static_cast<size_t>(kNumLandmarks)) {
    return absl::InternalError(
        absl::StrCat("the analyzer gave ", largest->landmarks.size(), " landmarks, expected 68"));
  }
  FaceSample sample;
  sample.features = largest->features;
  for (const Point& p : largest->landmarks) {
    sample.landmarks.push_back(p.x);
    sample.landmarks.push_back(p.y);
  }
  const std::optional<FacePose> pose = EstimateFacePose(largest->landmarks);
  const FacePose value = pose.value_or(FacePose{});
  sample.pose = {value.yaw, value.pitch, value.roll};
  return sample;
}

absl::StatusOr<FeatureCache> ExtractFaceDataset(const FaceDataset& dataset, FaceAnalyzer& analyzer,
                                                const ExtractOptions& options,
                                                ExtractSummary* summary) {
  const auto start = std::chrono::steady_clock::now();
  ExtractSummary local;
  ExtractSummary& s = summary != nullptr ? *summary : local;
  s = ExtractSummary{};

  std::map<std::string, SourceFaces> cached;
  if (!options.cache_path.empty()) {
    absl::StatusOr<FeatureCache> previous = ReadFeatureCacheFile(options.cache_path);
    if (previous.ok() && previous->backbone_id == analyzer.backbone_id() &&
        previous->feature_dim == analyzer.feature_dim()) {
      for (SourceFaces& source : previous->sources) {
        std::string key = source.path;
        cached.emplace(std::move(key), std::move(source));
      }
    } else if (previous.ok()) {
      Log(options, absl::StrCat("cache ", options.cache_path, " is for backbone ",
                                previous->backbone_id, ": extracting again"));
    } else if (!absl::IsNotFound(previous.status())) {
      Log(options, absl::StrCat("ignoring unreadable cache: ", previous.status().message()));
    }
  }

  FeatureCache cache;
  cache.backbone_id = analyzer.backbone_id();
  cache.feature_dim = analyzer.feature_dim();
  for (const DatasetFile& file : dataset.files) {
    FER_ASSIGN_OR_RETURN(const FileVersion version, VersionOf(file.path));
    const std::string sampling = SamplingKey(file, options.sample_fps);
    auto it = cached.find(file.relative);
    if (it != cached.end() && it->second.file_size == version.size &&
        it->second.mtime_ns == version.mtime_ns && it->second.sampling == sampling) {
      cache.sources.push_back(std::move(it->second));
      s.files_from_cache++;
    } else {
      SourceFaces source;
      source.path = file.relative;
      source.file_size = version.size;
      source.mtime_ns = version.mtime_ns;
      source.sampling = sampling;
      absl::Status status = file.is_video ? ExtractVideo(file, analyzer, options, source)
                                          : ExtractImage(file, analyzer, options, source);
      if (!status.ok()) {
        // Named once: the image and video readers' own errors name the file.
        if (absl::StrContains(status.message(), file.path)) return status;
        return absl::Status(status.code(), absl::StrCat(file.path, ": ", status.message()));
      }
      if (file.is_video) {
        Log(options, absl::StrFormat("%s: %d frames, %d with a face", file.relative, source.frames,
                                     source.faces.size()));
      }
      cache.sources.push_back(std::move(source));
      s.files_extracted++;
    }
    const SourceFaces& source = cache.sources.back();
    s.frames += source.frames;
    s.frames_without_face += source.frames_without_face;
    s.faces += static_cast<int>(source.faces.size());
  }
  const bool changed = s.files_extracted > 0 || cached.size() != cache.sources.size();
  if (!options.cache_path.empty() && changed) {
    FER_RETURN_IF_ERROR(WriteFeatureCacheFile(cache, options.cache_path));
  }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return cache;
}

absl::StatusOr<std::vector<SourceSubject>> GroupBySubject(const FeatureCache& cache,
                                                          const std::vector<std::string>& labels) {
  std::map<std::string, SourceSubject> subjects;
  for (const SourceFaces& source : cache.sources) {
    for (const FaceSample& face : source.faces) {
      const auto label = std::find(labels.begin(), labels.end(), face.label);
      if (label == labels.end()) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: label \"%s\" is not one of the backbone's classes", source.path, face.label));
      }
      SourceSubject& subject = subjects[face.subject];
      subject.id = face.subject;
      subject.count++;
      subject.features.insert(subject.features.end(), face.features.begin(), face.features.end());
      subject.labels.push_back(static_cast<int>(label - labels.begin()));
      subject.landmarks.insert(subject.landmarks.end(), face.landmarks.begin(),
                               face.landmarks.end());
      subject.pose.insert(subject.pose.end(), face.pose.begin(), face.pose.end());
    }
  }
  std::vector<SourceSubject> out;
  for (auto& [id, subject] : subjects) out.push_back(std::move(subject));
  return out;
}

}  // namespace fer::pft
