#ifndef FERSERVE_LIB_MODEL_DETECTOR_OPS_H_
#define FERSERVE_LIB_MODEL_DETECTOR_OPS_H_

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "lib/model/face_detector.h"
#include "lib/vision/image.h"

// The pieces of face-api's detection pipeline that sit around its networks:
// building the input batch from an image, max pooling with TF's 'same'
// padding, the two non-max suppressions face-api uses, and the dimension
// arithmetic that maps boxes back to the image. Numerics follow face-api on
// tfjs-backend-cpu (JavaScript doubles, tensors rounded to float32).
namespace fer::detector {

// face-api's NetInput.toBatchTensor(input_size, center) for one image:
// padToSquare (zero padding of the shorter side; all of it at the
// bottom/right unless `center`) followed, when the square is not already
// input_size, by tf.image.resizeBilinear(alignCorners = false,
// halfPixelCenters = false). Bit-identical to
// tf::ResizeBilinear(tf::PadToSquare(x, center), input_size, input_size) but
// never materializes the padded square, so very elongated images cost no
// more than square ones. Returns a CPU float32 tensor [1, input_size,
// input_size, 3] (NHWC) with values in 0..255.
torch::Tensor ImageToBatchTensor(const RgbImage& image, int input_size, bool center);

// Checks that `image` is non-empty and its pixel buffer matches its size.
absl::Status ValidateImage(const RgbImage& image);

// Checks DetectOptions as face-api's option classes do: min_score strictly
// between 0 and 1, max_results at least 1.
absl::Status ValidateOptions(const DetectOptions& options);

// face-api's computeReshapedDimensions: the size of the image inside the
// input_size square, round(side * input_size / max(width, height)) (JS
// rounding). A side that rounds to 0 (images more than 2 * input_size times
// longer than wide) is reported as 1: face-api would divide by zero there.
struct Dims {
  int width = 0;
  int height = 0;
};
Dims ReshapedDimensions(int width, int height, int input_size);

// tf.maxPool(x, [kernel, kernel], [stride, stride], 'same') on NCHW `x`:
// TF's 'same' padding (odd element at the end) where padded cells never win.
torch::Tensor MaxPoolSame(const torch::Tensor& x, int64_t kernel, int64_t stride);

// face-api's ssdMobilenetv1/nonMaxSuppression.ts. `boxes` are
// [ymin, xmin, ymax, xmax]; candidates are the boxes scoring strictly above
// `score_threshold`, visited best first (ties in index order); a candidate is
// kept unless its IoU with an already kept box exceeds `iou_threshold`; at
// most min(max_output, boxes.size()) are kept. Returns indices, best first.
std::vector<int> SsdNonMaxSuppression(const std::vector<std::array<float, 4>>& boxes,
                                      const std::vector<float>& scores, int max_output,
                                      double iou_threshold, double score_threshold);

// A box in face-api's Box representation (JavaScript doubles).
struct RectD {
  double x = 0;
  double y = 0;
  double width = 0;
  double height = 0;
};

// face-api's ops/nonMaxSuppression.ts (used by the tiny face detector):
// repeatedly picks the best remaining box (among equal scores the one with
// the highest index) and drops the remaining boxes whose IoU with it exceeds
// `iou_threshold`. Returns indices, best first.
std::vector<int> NonMaxSuppression(const std::vector<RectD>& boxes,
                                   const std::vector<double>& scores, double iou_threshold);

}  // namespace fer::detector

#endif  // FERSERVE_LIB_MODEL_DETECTOR_OPS_H_
