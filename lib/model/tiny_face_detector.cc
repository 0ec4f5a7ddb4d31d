#include "lib/model/tiny_face_detector.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "lib/model/detector_ops.h"
#include "lib/model/native_tiny_face_detector.h"
#include "lib/model/status_macros.h"
#include "lib/model/torch_device.h"

namespace fer {
namespace {

// tinyFaceDetector/const.ts: anchor widths and heights in grid cells.
constexpr std::array<std::array<double, 2>, TinyFaceDetector::kNumAnchors> kAnchors = {
    {{1.603231, 2.094468},
     {6.041143, 7.080126},
     {2.882459, 3.518061},
     {4.266906, 5.178857},
     {9.041765, 10.66308}}};
// tinyFaceDetector/const.ts MEAN_RGB, as the float32 tensors face-api fills.
constexpr std::array<float, 3> kMeanRgb = {117.001f, 114.697f, 97.404f};
// Output channels of conv0..conv5 (filterSizes [3, 16, 32, 64, 128, 256, 512]).
constexpr std::array<int64_t, 7> kFilterSizes = {3, 16, 32, 64, 128, 256, 512};
// Per anchor: x, y, width, height, score (one class: no class scores).
constexpr int64_t kBoxEncodingSize = 5;

// tinyYolov2/leaky.ts: min = x * 0.1 (float32); relu(x - min) + min.
torch::Tensor Leaky(const torch::Tensor& x) {
  const torch::Tensor min = x * 0.10000000149011612;
  return torch::relu(x - min) + min;
}

// convLayer(x, params, 'valid'): conv2d, then the bias added as its own op.
torch::Tensor ConvValid(const torch::Tensor& x, const torch::Tensor& weight,
                        const torch::Tensor& bias) {
  return torch::conv2d(x, weight) + bias.view({1, -1, 1, 1});
}

// tinyYolov2/depthwiseSeparableConv.ts: pad 1, separableConv2d 'valid',
// add the bias, leaky ReLU. (Padding 1 then 'valid' is TF 'same' for a 3x3
// filter at stride 1.)
torch::Tensor SeparableConvLeaky(const torch::Tensor& x, const tf::SeparableConv& conv) {
  const torch::Tensor depthwise = tf::Conv2dSame(x, conv.depthwise, {}, 1, x.size(1));
  return Leaky(torch::conv2d(depthwise, conv.pointwise) + conv.bias.view({1, -1, 1, 1}));
}

double Sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

}  // namespace

absl::StatusOr<std::unique_ptr<TinyFaceDetector>> TinyFaceDetector::Load(
    const std::string& model_dir, const torch::Device& device, int input_size,
    CpuKernels cpu_kernels) {
  FER_ASSIGN_OR_RETURN(WeightMap weights, LoadFaceApiWeights(model_dir, kModelName));
  return FromWeightMap(weights, device, input_size, cpu_kernels);
}

TinyFaceDetector::~TinyFaceDetector() = default;

absl::StatusOr<std::unique_ptr<TinyFaceDetector>> TinyFaceDetector::FromWeightMap(
    WeightMap& weights, const torch::Device& device, int input_size, CpuKernels cpu_kernels) {
  if (input_size <= 0 || input_size % 32 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tiny_face_detector: input size must be a positive multiple of 32, got ", input_size));
  }
  RequireFullFloat32(device);  // no TF32 convolutions on CUDA
  std::unique_ptr<TinyFaceDetector> net(new TinyFaceDetector(device, input_size));
  // The network runs on the fused kernels or on LibTorch: only its weights
  // are converted. The TensorFlow-layout tensors (contiguous CPU float32)
  // are kept until the fused-kernel network has packed them.
  const bool fused = device.is_cpu() && UsesFusedKernels(cpu_kernels);
  KeptFloats tf_layout;
  NativeTinyFaceDetector::Weights native;
  FER_ASSIGN_OR_RETURN(
      torch::Tensor conv0_filters,
      weights.TakeFloat("conv0/filters", {3, 3, kFilterSizes[0], kFilterSizes[1]}));
  FER_ASSIGN_OR_RETURN(torch::Tensor conv0_bias,
                       weights.TakeFloat("conv0/bias", {kFilterSizes[1]}));
  native.conv0_filters = tf_layout.Keep(conv0_filters);
  native.conv0_bias = tf_layout.Keep(conv0_bias);
  if (!fused) {
    net->conv0_weight_ = tf::ConvFilterToTorch(conv0_filters).to(device);
    net->conv0_bias_ = conv0_bias.to(device);
  }
  for (size_t i = 0; i < net->convs_.size(); ++i) {
    const int64_t in = kFilterSizes[i + 1], out = kFilterSizes[i + 2];
    const std::string prefix = absl::StrCat("conv", i + 1);
    FER_ASSIGN_OR_RETURN(torch::Tensor depthwise,
                         weights.TakeFloat(prefix + "/depthwise_filter", {3, 3, in, 1}));
    FER_ASSIGN_OR_RETURN(torch::Tensor pointwise,
                         weights.TakeFloat(prefix + "/pointwise_filter", {1, 1, in, out}));
    FER_ASSIGN_OR_RETURN(torch::Tensor bias, weights.TakeFloat(prefix + "/bias", {out}));
    native.convs[i] = {tf_layout.Keep(depthwise), tf_layout.Keep(pointwise), tf_layout.Keep(bias),
                       static_cast<int>(in), static_cast<int>(out)};
    if (fused) continue;
    net->convs_[i].depthwise = tf::DepthwiseFilterToTorch(depthwise).to(device);
    net->convs_[i].pointwise = tf::ConvFilterToTorch(pointwise).to(device);
    net->convs_[i].bias = bias.to(device);
  }
  // No conv6/conv7 for 7 filter sizes: conv8 maps 512 channels to the boxes.
  const int64_t outputs = kNumAnchors * kBoxEncodingSize;
  FER_ASSIGN_OR_RETURN(torch::Tensor conv8_filters,
                       weights.TakeFloat("conv8/filters", {1, 1, kFilterSizes[6], outputs}));
  FER_ASSIGN_OR_RETURN(torch::Tensor conv8_bias, weights.TakeFloat("conv8/bias", {outputs}));
  native.conv8_filters = tf_layout.Keep(conv8_filters);
  native.conv8_bias = tf_layout.Keep(conv8_bias);
  if (!fused) {
    net->conv8_weight_ = tf::ConvFilterToTorch(conv8_filters).to(device);
    net->conv8_bias_ = conv8_bias.to(device);
  }
  FER_RETURN_IF_ERROR(weights.CheckAllUsed());

  const torch::Tensor mean_rgb =
      torch::tensor({kMeanRgb[0], kMeanRgb[1], kMeanRgb[2]}, torch::kFloat32);
  native.mean_rgb = tf_layout.Keep(mean_rgb);
  if (fused) {
    net->native_ = std::make_shared<const NativeTinyFaceDetector>(native, input_size);
  } else {
    net->mean_rgb_ = mean_rgb.view({1, 3, 1, 1}).to(device);
    net->divisor_ = torch::full({1}, 255.0f, torch::kFloat32).to(device);
  }
  return net;
}

torch::Tensor TinyFaceDetector::Forward(const torch::Tensor& batch) const {
  TORCH_CHECK(batch.dim() == 4 && batch.size(1) == batch.size(2) && batch.size(1) % 32 == 0 &&
                  batch.size(3) == 3,
              "TinyFaceDetector expects [B, S, S, 3] with S a multiple of 32, got ", batch.sizes());
  c10::InferenceMode inference;
  if (native_ != nullptr) {
    const int64_t batch_size = batch.size(0), cells = native_->grid_size();
    TORCH_CHECK(batch.size(1) == input_size_, "TinyFaceDetector: fused kernels built for ",
                input_size_, "x", input_size_, ", got ", batch.sizes());
    const torch::Tensor input = batch.to(torch::kCPU, torch::kFloat32).contiguous();
    torch::Tensor grid =
        torch::empty({batch_size, cells, cells, kNumAnchors, kBoxEncodingSize}, torch::kFloat32);
    const int64_t image_floats = static_cast<int64_t>(input_size_) * input_size_ * 3;
    const int64_t grid_floats = cells * cells * kNumAnchors * kBoxEncodingSize;
    for (int64_t b = 0; b < batch_size; ++b) {
      native_->Forward(input.data_ptr<float>() + b * image_floats,
                       grid.data_ptr<float>() + b * grid_floats);
    }
    return grid;
  }
  torch::Tensor x = batch.to(device_, torch::kFloat32).permute({0, 3, 1, 2}).contiguous();
  x = (x - mean_rgb_) / divisor_;  // normalize(meanRgb), then div(255)

  // runMobilenet with isFirstLayerConv2d (conv0 is a plain 'valid' conv).
  x = Leaky(ConvValid(x, conv0_weight_, conv0_bias_));
  for (size_t i = 0; i < convs_.size(); ++i) {
    x = detector::MaxPoolSame(x, 2, 2);
    x = SeparableConvLeaky(x, convs_[i]);
  }
  x = detector::MaxPoolSame(x, 2, 1);
  x = ConvValid(x, conv8_weight_, conv8_bias_);
  const int64_t cells_h = x.size(2), cells_w = x.size(3);
  return x.permute({0, 2, 3, 1})
      .reshape({x.size(0), cells_h, cells_w, kNumAnchors, kBoxEncodingSize})
      .to(torch::kCPU, torch::kFloat32)
      .contiguous();
}

absl::StatusOr<std::vector<FaceDetection>> TinyFaceDetector::Detect(const RgbImage& image,
                                                                    const DetectOptions& options) {
  FER_RETURN_IF_ERROR(detector::ValidateImage(image));
  FER_RETURN_IF_ERROR(detector::ValidateOptions(options));
  c10::InferenceMode inference;
  const torch::Tensor grid =
      Forward(detector::ImageToBatchTensor(image, input_size_, /*center=*/false));
  const int64_t num_cells = grid.size(1);
  const float* data = grid.data_ptr<float>();

  // extractBoxes: boxes relative to the image, corrected for the padding.
  const detector::Dims reshaped =
      detector::ReshapedDimensions(image.width, image.height, input_size_);
  const double blob_size = std::max(reshaped.width, reshaped.height);
  const double correction_x = blob_size / reshaped.width;
  const double correction_y = blob_size / reshaped.height;
  std::vector<detector::RectD> boxes;  // relative
  std::vector<double> scores;
  for (int64_t row = 0; row < num_cells; ++row) {
    for (int64_t col = 0; col < num_cells; ++col) {
      for (int anchor = 0; anchor < kNumAnchors; ++anchor) {
        const float* e = data + ((row * num_cells + col) * kNumAnchors + anchor) * kBoxEncodingSize;
        const double score = Sigmoid(e[4]);
        if (!(score > options.min_score)) continue;
        const double ct_x = ((static_cast<double>(col) + Sigmoid(e[0])) / num_cells) * correction_x;
        const double ct_y = ((static_cast<double>(row) + Sigmoid(e[1])) / num_cells) * correction_y;
        const double width =
            ((std::exp(double{e[2]}) * kAnchors[anchor][0]) / num_cells) * correction_x;
        const double height =
            ((std::exp(double{e[3]}) * kAnchors[anchor][1]) / num_cells) * correction_y;
        const double x = ct_x - width / 2;
        const double y = ct_y - height / 2;
        // new BoundingBox(x, y, x + width, y + height): stored as x, y,
        // right - left, bottom - top.
        boxes.push_back({x, y, (x + width) - x, (y + height) - y});
        scores.push_back(score);
      }
    }
  }

  std::vector<detector::RectD> scaled(boxes.size());  // box.rescale(inputSize)
  for (size_t i = 0; i < boxes.size(); ++i) {
    const detector::RectD& b = boxes[i];
    scaled[i] = {b.x * input_size_, b.y * input_size_, b.width * input_size_,
                 b.height * input_size_};
  }
  std::vector<int> indices = detector::NonMaxSuppression(scaled, scores, kIouThreshold);
  if (indices.size() > static_cast<size_t>(options.max_results)) {
    indices.resize(static_cast<size_t>(options.max_results));
  }

  // ObjectDetection scales the relative box to the image, TinyFaceDetector
  // takes its relativeBox back, FaceDetection scales that again.
  const double w = image.width, h = image.height;
  std::vector<FaceDetection> faces;
  faces.reserve(indices.size());
  for (int idx : indices) {
    const detector::RectD& b = boxes[static_cast<size_t>(idx)];
    FaceDetection face;
    face.score = static_cast<float>(scores[static_cast<size_t>(idx)]);
    face.box.x = static_cast<float>(((b.x * w) * (1 / w)) * w);
    face.box.y = static_cast<float>(((b.y * h) * (1 / h)) * h);
    face.box.width = static_cast<float>(((b.width * w) * (1 / w)) * w);
    face.box.height = static_cast<float>(((b.height * h) * (1 / h)) * h);
    faces.push_back(face);
  }
  return faces;
}

}  // namespace fer
