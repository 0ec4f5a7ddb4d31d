#include "lib/model/detector_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"
#include "lib/model/net_input.h"
#include "lib/model/tf_ops.h"

namespace fer::detector {
namespace {

// JavaScript's Math.round for finite values: nearest integer, halves up.
double JsRound(double x) {
  const double floor = std::floor(x);
  return x - floor >= 0.5 ? floor + 1 : floor;
}

}  // namespace

absl::Status ValidateImage(const RgbImage& image) {
  if (image.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty image (", image.width, "x", image.height, ")"));
  }
  const size_t expected = static_cast<size_t>(image.width) * image.height * 3;
  if (image.pixels.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("image of ", image.width, "x", image.height,
                                                   " needs ", expected, " RGB bytes, has ",
                                                   image.pixels.size()));
  }
  return absl::OkStatus();
}

absl::Status ValidateOptions(const DetectOptions& options) {
  if (!(options.min_score > 0 && options.min_score < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_score must be strictly between 0 and 1, got ", options.min_score));
  }
  if (options.max_results < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_results must be at least 1, got ", options.max_results));
  }
  return absl::OkStatus();
}

torch::Tensor ImageToBatchTensor(const RgbImage& image, int input_size, bool center) {
  TORCH_CHECK(input_size > 0, "ImageToBatchTensor: input_size must be positive");
  TORCH_CHECK(ValidateImage(image).ok(), "ImageToBatchTensor: invalid image");
  torch::Tensor out = torch::empty({1, input_size, input_size, 3}, torch::kFloat32);
  RegionToSquareInput(WholeImage(image), input_size, center, out.data_ptr<float>());
  return out;
}

Dims ReshapedDimensions(int width, int height, int input_size) {
  const double scale =
      static_cast<double>(input_size) / static_cast<double>(std::max(width, height));
  Dims dims;
  dims.width = std::max(1, static_cast<int>(JsRound(width * scale)));
  dims.height = std::max(1, static_cast<int>(JsRound(height * scale)));
  return dims;
}

torch::Tensor MaxPoolSame(const torch::Tensor& x, int64_t kernel, int64_t stride) {
  const tf::SamePadding ph = tf::ComputeSamePadding(x.size(2), kernel, stride);
  const tf::SamePadding pw = tf::ComputeSamePadding(x.size(3), kernel, stride);
  torch::Tensor input = x;
  if (ph.before + ph.after + pw.before + pw.after > 0) {
    input = torch::constant_pad_nd(x, {pw.before, pw.after, ph.before, ph.after},
                                   -std::numeric_limits<float>::infinity());
  }
  // The maximum of the kernel * kernel strided views of the input: the same
  // values as max_pool2d, several times faster for face-api's 2x2 kernels
  // than LibTorch 1.13's CPU max_pool2d on NCHW.
  const int64_t out_h = (x.size(2) + stride - 1) / stride;
  const int64_t out_w = (x.size(3) + stride - 1) / stride;
  torch::Tensor out;
  for (int64_t dy = 0; dy < kernel; ++dy) {
    const torch::Tensor rows = input.slice(2, dy, dy + (out_h - 1) * stride + 1, stride);
    for (int64_t dx = 0; dx < kernel; ++dx) {
      const torch::Tensor view = rows.slice(3, dx, dx + (out_w - 1) * stride + 1, stride);
      out = out.defined() ? torch::maximum(out, view) : view;
    }
  }
  return kernel == 1 ? out.contiguous() : out;
}

namespace {

// IOU() of ssdMobilenetv1/nonMaxSuppression.ts, in doubles.
double SsdIou(const std::array<float, 4>& a, const std::array<float, 4>& b) {
  const double ymin_a = std::min<double>(a[0], a[2]), xmin_a = std::min<double>(a[1], a[3]);
  const double ymax_a = std::max<double>(a[0], a[2]), xmax_a = std::max<double>(a[1], a[3]);
  const double ymin_b = std::min<double>(b[0], b[2]), xmin_b = std::min<double>(b[1], b[3]);
  const double ymax_b = std::max<double>(b[0], b[2]), xmax_b = std::max<double>(b[1], b[3]);
  const double area_a = (ymax_a - ymin_a) * (xmax_a - xmin_a);
  const double area_b = (ymax_b - ymin_b) * (xmax_b - xmin_b);
  if (area_a <= 0 || area_b <= 0) return 0.0;
  const double inter_ymin = std::max(ymin_a, ymin_b), inter_xmin = std::max(xmin_a, xmin_b);
  const double inter_ymax = std::min(ymax_a, ymax_b), inter_xmax = std::min(xmax_a, xmax_b);
  const double inter =
      std::max(inter_ymax - inter_ymin, 0.0) * std::max(inter_xmax - inter_xmin, 0.0);
  return inter / (area_a + area_b - inter);
}

// iou() of ops/iou.ts (isIOU = true), on face-api Boxes.
double BoxIou(const RectD& a, const RectD& b) {
  const double width = std::max(0.0, std::min(a.x + a.width, b.x + b.width) - std::max(a.x, b.x));
  const double height =
      std::max(0.0, std::min(a.y + a.height, b.y + b.height) - std::max(a.y, b.y));
  const double inter = width * height;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

}  // namespace

std::vector<int> SsdNonMaxSuppression(const std::vector<std::array<float, 4>>& boxes,
                                      const std::vector<float>& scores, int max_output,
                                      double iou_threshold, double score_threshold) {
  TORCH_CHECK(boxes.size() == scores.size(), "SsdNonMaxSuppression: boxes/scores mismatch");
  const size_t output_size =
      static_cast<size_t>(std::max(0, std::min<int>(max_output, static_cast<int>(boxes.size()))));
  struct Candidate {
    double score;
    int index;
  };
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i] > score_threshold) candidates.push_back({scores[i], static_cast<int>(i)});
  }
  // Array.prototype.sort is stable: equal scores keep index order.
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  std::vector<int> selected;
  for (const Candidate& c : candidates) {
    if (selected.size() >= output_size) break;
    double score = c.score;
    for (size_t j = selected.size(); j-- > 0;) {
      const double iou =
          SsdIou(boxes[static_cast<size_t>(c.index)], boxes[static_cast<size_t>(selected[j])]);
      if (iou == 0.0) continue;
      score *= iou <= iou_threshold ? 1 : 0;
      if (score <= score_threshold) break;
    }
    if (score == c.score) selected.push_back(c.index);
  }
  return selected;
}

std::vector<int> NonMaxSuppression(const std::vector<RectD>& boxes,
                                   const std::vector<double>& scores, double iou_threshold) {
  TORCH_CHECK(boxes.size() == scores.size(), "NonMaxSuppression: boxes/scores mismatch");
  std::vector<int> remaining(scores.size());
  for (size_t i = 0; i < remaining.size(); ++i) remaining[i] = static_cast<int>(i);
  // Ascending and stable, so that pop() takes the last of equal scores.
  std::stable_sort(remaining.begin(), remaining.end(),
                   [&](int a, int b) { return scores[a] < scores[b]; });
  std::vector<int> pick;
  while (!remaining.empty()) {
    const int current = remaining.back();
    remaining.pop_back();
    pick.push_back(current);
    std::vector<int> kept;
    kept.reserve(remaining.size());
    for (int index : remaining) {
      // A NaN IoU (two empty boxes) is not <= the threshold: dropped, as in JS.
      if (BoxIou(boxes[current], boxes[index]) <= iou_threshold) kept.push_back(index);
    }
    remaining = std::move(kept);
  }
  return pick;
}

}  // namespace fer::detector
