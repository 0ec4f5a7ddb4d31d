// fer-frames: writes video frames or decoded images as lossless PNG files, so
// that ferserve and the Node.js reference see exactly the same pixels.
//
//   fer-frames --video franck.mp4 --every 150 --count 24 --out DIR
//       writes DIR/franck_000000.png, DIR/franck_000150.png, ...
//   fer-frames --out DIR a.jpg b.jpg
//       writes DIR/a.png, DIR/b.png
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "lib/vision/image_file.h"
#include "lib/vision/video_reader.h"

ABSL_FLAG(std::string, video, "", "Video to take frames from.");
ABSL_FLAG(int, every, 1, "Take every N-th frame, starting with --first.");
ABSL_FLAG(int, first, 0, "Index of the first frame to take.");
ABSL_FLAG(int, count, 30, "Number of frames to write from --video.");
ABSL_FLAG(std::string, out, "", "Output folder (must exist).");

namespace {

std::string Stem(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  return name.substr(0, name.find_last_of('.'));
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "fer-frames: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Writes video frames or images as PNG: see the file header.");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return Fail("--out is required");

  for (size_t i = 1; i < args.size(); ++i) {
    absl::StatusOr<fer::RgbImage> image = fer::ReadImageFile(args[i]);
    if (!image.ok()) return Fail(std::string(image.status().message()));
    const std::string path = out + "/" + Stem(args[i]) + ".png";
    if (absl::Status s = fer::WritePngFile(*image, path); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    std::printf("%s\n", path.c_str());
  }

  const std::string video = absl::GetFlag(FLAGS_video);
  if (video.empty()) return 0;
  absl::StatusOr<std::unique_ptr<fer::VideoReader>> reader = fer::VideoReader::Open(video);
  if (!reader.ok()) return Fail(std::string(reader.status().message()));
  const int every = std::max(1, absl::GetFlag(FLAGS_every));
  if (!(*reader)->Skip(absl::GetFlag(FLAGS_first))) return Fail("--first is past the end");
  for (int n = 0; n < absl::GetFlag(FLAGS_count); ++n) {
    const int64_t index = (*reader)->position();
    absl::StatusOr<fer::RgbImage> frame = (*reader)->Next();
    if (!frame.ok()) return Fail(absl::StrFormat("%s ends before frame %d", video, index));
    const std::string path = absl::StrFormat("%s/%s_%06d.png", out, Stem(video), index);
    if (absl::Status s = fer::WritePngFile(*frame, path); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    std::printf("%s\n", path.c_str());
    if (n + 1 < absl::GetFlag(FLAGS_count) && !(*reader)->Skip(every - 1)) {
      return Fail(absl::StrFormat("%s ends before frame %d", video, index + every));
    }
  }
  return 0;
}
