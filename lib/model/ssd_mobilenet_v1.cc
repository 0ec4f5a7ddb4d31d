#include "lib/model/ssd_mobilenet_v1.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/model/detector_ops.h"
#include "lib/model/native_ssd_mobilenet_v1.h"
#include "lib/model/status_macros.h"
#include "lib/model/tf_ops.h"
#include "lib/model/torch_device.h"

namespace fer {
namespace {

// mobileNetV1.ts: the batch norm epsilon (float32 0.001).
constexpr double kBatchNormEpsilon = 0.0010000000474974513;

// Input and output channels of MobilenetV1 conv_1..conv_13.
constexpr std::array<std::array<int64_t, 2>, 13> kPairChannels = {{{32, 64},
                                                                   {64, 128},
                                                                   {128, 128},
                                                                   {128, 256},
                                                                   {256, 256},
                                                                   {256, 512},
                                                                   {512, 512},
                                                                   {512, 512},
                                                                   {512, 512},
                                                                   {512, 512},
                                                                   {512, 512},
                                                                   {512, 1024},
                                                                   {1024, 1024}}};

// Prediction conv_0..conv_7: input channels, output channels, filter size.
// Odd layers have stride 2.
constexpr std::array<std::array<int64_t, 3>, 8> kPredictionConvs = {{{1024, 256, 1},
                                                                     {256, 512, 3},
                                                                     {512, 128, 1},
                                                                     {128, 256, 3},
                                                                     {256, 128, 1},
                                                                     {128, 256, 3},
                                                                     {256, 64, 1},
                                                                     {64, 128, 3}}};

// Input channels and anchors per cell of BoxPredictor_0..5 (fed by conv 11,
// conv 13, and prediction convs 1, 3, 5, 7).
constexpr std::array<std::array<int64_t, 2>, 6> kBoxPredictors = {
    {{512, 3}, {1024, 6}, {512, 6}, {256, 6}, {256, 6}, {128, 6}}};

// Depthwise convolutions with stride 2 (getStridesForLayerIdx).
bool IsStrideTwo(int layer) { return layer == 2 || layer == 4 || layer == 6 || layer == 12; }

// Rounds a JavaScript double to float32, as storing it in a Float32Array
// does. The volatile keeps the compiler from fusing operations across it.
inline float F32(double v) {
  volatile float rounded = static_cast<float>(v);
  return rounded;
}

// Graph constants of the converted TF model that face-api never reads.
bool IsUnusedGraphConstant(const std::string& name) {
  return absl::StartsWith(name, "Preprocessor/") || absl::StartsWith(name, "Postprocessor/") ||
         absl::StartsWith(name, "concat") || absl::StrContains(name, "/stack") ||
         absl::StrContains(name, "/strided_slice");
}

// The anchor boxes stored with the weights (`Output/extra_dim`).
absl::StatusOr<std::vector<std::array<float, 4>>> TakePriors(WeightMap& weights) {
  FER_ASSIGN_OR_RETURN(torch::Tensor tensor,
                       weights.TakeFloat("Output/extra_dim", {1, SsdMobilenetv1::kNumPriors, 4}));
  tensor = tensor.contiguous();
  const float* p = tensor.data_ptr<float>();
  std::vector<std::array<float, 4>> priors(SsdMobilenetv1::kNumPriors);
  for (size_t i = 0; i < priors.size(); ++i) {
    for (int j = 0; j < 4; ++j) priors[i][j] = p[i * 4 + j];
  }
  return priors;
}

// Fails when a tensor is left that is neither taken nor a graph constant.
absl::Status CheckOnlyGraphConstantsLeft(const WeightMap& weights) {
  std::vector<std::string> unexpected;
  for (const std::string& name : weights.Unused()) {
    if (!IsUnusedGraphConstant(name)) unexpected.push_back(name);
  }
  if (unexpected.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(weights.source(), ": unexpected tensors ", absl::StrJoin(unexpected, ", ")));
}

}  // namespace

// Takes each layer's tensors from a WeightMap: in TensorFlow's layouts for
// the fused kernels (contiguous CPU float32, kept as long as this object,
// until the fused-kernel network has packed them) and, unless the fused
// kernels run the network, in LibTorch's layouts on the device.
class SsdMobilenetv1::WeightLoader {
 public:
  WeightLoader(WeightMap& weights, const torch::Device& device, bool fused)
      : weights_(weights), device_(device), fused_(fused) {}

  // A k x k conv (TF 'same') with its batch-norm offset.
  absl::StatusOr<PointwiseConv> TakePointwise(const std::string& prefix, int64_t in, int64_t out,
                                              int64_t k, NativeSsdMobilenetv1::ConvWeights* tf) {
    FER_ASSIGN_OR_RETURN(torch::Tensor filters,
                         weights_.TakeFloat(prefix + "/weights", {k, k, in, out}));
    FER_ASSIGN_OR_RETURN(torch::Tensor offset,
                         weights_.TakeFloat(prefix + "/convolution_bn_offset", {out}));
    *tf = {tf_layout_.Keep(filters), tf_layout_.Keep(offset), static_cast<int>(in),
           static_cast<int>(out), static_cast<int>(k)};
    PointwiseConv conv;
    if (fused_) return conv;
    conv.weight = tf::ConvFilterToTorch(filters).to(device_);
    conv.offset = offset.view({1, out, 1, 1}).to(device_);
    return conv;
  }

  // A depthwise 3x3 conv with its batch norm.
  absl::StatusOr<DepthwiseConv> TakeDepthwise(const std::string& prefix, int64_t channels,
                                              NativeSsdMobilenetv1::DepthwiseWeights* tf) {
    FER_ASSIGN_OR_RETURN(torch::Tensor filters,
                         weights_.TakeFloat(prefix + "/depthwise_weights", {3, 3, channels, 1}));
    FER_ASSIGN_OR_RETURN(torch::Tensor gamma,
                         weights_.TakeFloat(prefix + "/BatchNorm/gamma", {channels}));
    FER_ASSIGN_OR_RETURN(torch::Tensor beta,
                         weights_.TakeFloat(prefix + "/BatchNorm/beta", {channels}));
    FER_ASSIGN_OR_RETURN(torch::Tensor mean,
                         weights_.TakeFloat(prefix + "/BatchNorm/moving_mean", {channels}));
    FER_ASSIGN_OR_RETURN(torch::Tensor variance,
                         weights_.TakeFloat(prefix + "/BatchNorm/moving_variance", {channels}));
    // scale / sqrt(variance + epsilon), computed in double as tf.batchNorm does.
    const torch::Tensor factor =
        (gamma.to(torch::kFloat64) / (variance.to(torch::kFloat64) + kBatchNormEpsilon).sqrt())
            .to(torch::kFloat32);
    *tf = {tf_layout_.Keep(filters), tf_layout_.Keep(mean), tf_layout_.Keep(factor),
           tf_layout_.Keep(beta), static_cast<int>(channels)};
    DepthwiseConv conv;
    if (fused_) return conv;
    conv.weight = tf::DepthwiseFilterToTorch(filters).to(device_);
    conv.mean = mean.view({1, channels, 1, 1}).to(device_);
    conv.inv_std_scale = factor.view({1, channels, 1, 1}).to(device_);
    conv.offset = beta.view({1, channels, 1, 1}).to(device_);
    return conv;
  }

  // BoxPredictor_<index>: the box encoding and class 1x1 convs.
  absl::Status TakeBoxPredictor(size_t index, BoxPredictor* torch_layout,
                                NativeSsdMobilenetv1::BoxPredictorWeights* tf) {
    const auto& [in, anchors] = kBoxPredictors[index];
    const std::string prefix = absl::StrCat("Prediction/BoxPredictor_", index);
    tf->in = static_cast<int>(in);
    tf->anchors = static_cast<int>(anchors);
    FER_RETURN_IF_ERROR(TakeBiasedConv(prefix + "/BoxEncodingPredictor", in, anchors * 4,
                                       torch_layout->box_weight, torch_layout->box_bias,
                                       &tf->box_filters, &tf->box_bias));
    return TakeBiasedConv(prefix + "/ClassPredictor", in, anchors * 3, torch_layout->class_weight,
                          torch_layout->class_bias, &tf->class_filters, &tf->class_bias);
  }

 private:
  // A 1x1 conv with a bias.
  absl::Status TakeBiasedConv(const std::string& prefix, int64_t in, int64_t out,
                              torch::Tensor& weight, torch::Tensor& bias, const float** tf_filters,
                              const float** tf_bias) {
    FER_ASSIGN_OR_RETURN(torch::Tensor filters,
                         weights_.TakeFloat(prefix + "/weights", {1, 1, in, out}));
    FER_ASSIGN_OR_RETURN(torch::Tensor biases, weights_.TakeFloat(prefix + "/biases", {out}));
    *tf_filters = tf_layout_.Keep(filters);
    *tf_bias = tf_layout_.Keep(biases);
    if (fused_) return absl::OkStatus();
    weight = tf::ConvFilterToTorch(filters).to(device_);
    bias = biases.view({1, out, 1, 1}).to(device_);
    return absl::OkStatus();
  }

  WeightMap& weights_;
  const torch::Device device_;
  const bool fused_;
  KeptFloats tf_layout_;
};

SsdMobilenetv1::~SsdMobilenetv1() = default;

absl::StatusOr<std::unique_ptr<SsdMobilenetv1>> SsdMobilenetv1::Load(const std::string& model_dir,
                                                                     const torch::Device& device,
                                                                     CpuKernels cpu_kernels) {
  FER_ASSIGN_OR_RETURN(WeightMap weights, LoadFaceApiWeights(model_dir, kModelName));
  return FromWeightMap(weights, device, cpu_kernels);
}

absl::StatusOr<std::unique_ptr<SsdMobilenetv1>> SsdMobilenetv1::FromWeightMap(
    WeightMap& weights, const torch::Device& device, CpuKernels cpu_kernels) {
  RequireFullFloat32(device);  // no TF32 convolutions on CUDA
  std::unique_ptr<SsdMobilenetv1> net(new SsdMobilenetv1(device));
  // The network runs on the fused kernels or on LibTorch: only its weights
  // are converted.
  const bool fused = device.is_cpu() && UsesFusedKernels(cpu_kernels);
  WeightLoader loader(weights, device, fused);
  NativeSsdMobilenetv1::Weights native;
  FER_ASSIGN_OR_RETURN(
      net->conv0_, loader.TakePointwise("MobilenetV1/Conv2d_0_pointwise", 3, 32, 3, &native.conv0));
  for (size_t i = 0; i < kPairChannels.size(); ++i) {
    const int64_t in = kPairChannels[i][0], out = kPairChannels[i][1];
    const std::string prefix = absl::StrCat("MobilenetV1/Conv2d_", i + 1);
    FER_ASSIGN_OR_RETURN(net->pairs_[i].depthwise,
                         loader.TakeDepthwise(prefix + "_depthwise", in, &native.depthwise[i]));
    FER_ASSIGN_OR_RETURN(
        net->pairs_[i].pointwise,
        loader.TakePointwise(prefix + "_pointwise", in, out, 1, &native.pointwise[i]));
  }
  for (size_t i = 0; i < kPredictionConvs.size(); ++i) {
    const auto& [in, out, k] = kPredictionConvs[i];
    FER_ASSIGN_OR_RETURN(net->prediction_[i],
                         loader.TakePointwise(absl::StrCat("Prediction/Conv2d_", i, "_pointwise"),
                                              in, out, k, &native.prediction[i]));
  }
  for (size_t i = 0; i < kBoxPredictors.size(); ++i) {
    FER_RETURN_IF_ERROR(
        loader.TakeBoxPredictor(i, &net->box_predictors_[i], &native.box_predictors[i]));
  }
  FER_ASSIGN_OR_RETURN(net->priors_, TakePriors(weights));
  FER_RETURN_IF_ERROR(CheckOnlyGraphConstantsLeft(weights));
  net->divisor_ = torch::full({1}, 127.5f, torch::kFloat32).to(device);
  if (fused) net->native_ = std::make_shared<const NativeSsdMobilenetv1>(native);
  return net;
}

torch::Tensor SsdMobilenetv1::RunPointwise(const torch::Tensor& x, const PointwiseConv& conv,
                                           int64_t stride) {
  // pointwiseConvLayer: conv2d 'same', add the offset, clip to [0, 6].
  return (tf::Conv2dSame(x, conv.weight, {}, stride) + conv.offset).clamp_(0, 6);
}

torch::Tensor SsdMobilenetv1::RunDepthwise(const torch::Tensor& x, const DepthwiseConv& conv,
                                           int64_t stride) {
  // depthwiseConvLayer: depthwiseConv2d 'same', batchNorm, clip to [0, 6].
  const torch::Tensor y = tf::Conv2dSame(x, conv.weight, {}, stride, x.size(1));
  return ((y - conv.mean) * conv.inv_std_scale + conv.offset).clamp_(0, 6);
}

std::pair<torch::Tensor, torch::Tensor> SsdMobilenetv1::RunTorchNetwork(
    const torch::Tensor& batch) const {
  const int64_t batch_size = batch.size(0);
  torch::Tensor x = batch.to(device_, torch::kFloat32).permute({0, 3, 1, 2}).contiguous();
  x = x / divisor_ - 1;  // input normalized to -1..1

  // mobileNetV1
  x = RunPointwise(x, conv0_, 2);
  torch::Tensor conv11;
  for (size_t i = 0; i < pairs_.size(); ++i) {
    const int layer = static_cast<int>(i) + 1;
    x = RunDepthwise(x, pairs_[i].depthwise, IsStrideTwo(layer) ? 2 : 1);
    x = RunPointwise(x, pairs_[i].pointwise, 1);
    if (layer == 11) conv11 = x;
  }

  // predictionLayer
  std::array<torch::Tensor, 8> convs;
  torch::Tensor in = x;
  for (size_t i = 0; i < prediction_.size(); ++i) {
    convs[i] = RunPointwise(in, prediction_[i], i % 2 == 1 ? 2 : 1);
    in = convs[i];
  }
  const std::array<torch::Tensor, 6> sources = {conv11, x, convs[1], convs[3], convs[5], convs[7]};
  std::vector<torch::Tensor> box_parts, class_parts;
  for (size_t i = 0; i < sources.size(); ++i) {
    const BoxPredictor& p = box_predictors_[i];
    // convLayer (1x1, so 'same' adds no padding) + bias; reshaped in NHWC
    // order, so that predictions run cell by cell, anchor by anchor.
    const torch::Tensor box = torch::conv2d(sources[i], p.box_weight) + p.box_bias;
    const torch::Tensor cls = torch::conv2d(sources[i], p.class_weight) + p.class_bias;
    box_parts.push_back(box.permute({0, 2, 3, 1}).reshape({batch_size, -1, 4}));
    class_parts.push_back(cls.permute({0, 2, 3, 1}).reshape({batch_size, -1, 3}));
  }
  torch::Tensor encodings = torch::cat(box_parts, 1).to(torch::kCPU, torch::kFloat32).contiguous();
  torch::Tensor classes = torch::cat(class_parts, 1).to(torch::kCPU, torch::kFloat32).contiguous();
  TORCH_CHECK(encodings.size(1) == kNumPriors, "SsdMobilenetv1: ", encodings.size(1),
              " box predictions for ", kNumPriors, " priors");
  return {encodings, classes};
}

SsdMobilenetv1::Output SsdMobilenetv1::Forward(const torch::Tensor& batch) const {
  TORCH_CHECK(batch.dim() == 4 && batch.size(1) == kInputSize && batch.size(2) == kInputSize &&
                  batch.size(3) == 3,
              "SsdMobilenetv1 expects [B, 512, 512, 3], got ", batch.sizes());
  c10::InferenceMode inference;
  const int64_t batch_size = batch.size(0);
  torch::Tensor encodings, classes;  // [B, 5118, 4] and [B, 5118, 3] on the CPU
  if (native_ != nullptr) {
    const torch::Tensor input = batch.to(torch::kCPU, torch::kFloat32).contiguous();
    encodings = torch::empty({batch_size, kNumPriors, 4}, torch::kFloat32);
    classes = torch::empty({batch_size, kNumPriors, 3}, torch::kFloat32);
    for (int64_t b = 0; b < batch_size; ++b) {
      native_->Forward(input.data_ptr<float>() + b * kInputSize * kInputSize * 3,
                       encodings.data_ptr<float>() + b * kNumPriors * 4,
                       classes.data_ptr<float>() + b * kNumPriors * 3);
    }
  } else {
    std::tie(encodings, classes) = RunTorchNetwork(batch);
  }

  // outputLayer, op by op as tfjs-backend-cpu computes it (each op in
  // double, rounded to float32).
  Output out;
  out.boxes = torch::empty({batch_size, kNumPriors, 4}, torch::kFloat32);
  out.scores = torch::empty({batch_size, kNumPriors}, torch::kFloat32);
  const float* enc = encodings.data_ptr<float>();
  const float* cls = classes.data_ptr<float>();
  float* boxes = out.boxes.data_ptr<float>();
  float* scores = out.scores.data_ptr<float>();
  for (int64_t b = 0; b < batch_size; ++b) {
    for (int64_t i = 0; i < kNumPriors; ++i) {
      const std::array<float, 4>& prior = priors_[static_cast<size_t>(i)];
      const float size0 = F32(double{prior[2]} - prior[0]);
      const float size1 = F32(double{prior[3]} - prior[1]);
      const float center0 = F32(prior[0] + double{F32(size0 / 2.0)});
      const float center1 = F32(prior[1] + double{F32(size1 / 2.0)});
      const float* e = enc + (b * kNumPriors + i) * 4;
      const float exp0 = F32(std::exp(double{F32(e[2] / 5.0)}));
      const float exp1 = F32(std::exp(double{F32(e[3] / 5.0)}));
      const float half0 = F32(double{F32(double{exp0} * size0)} / 2.0);
      const float half1 = F32(double{F32(double{exp1} * size1)} / 2.0);
      const float mid0 = F32(double{F32(double{F32(e[0] / 10.0)} * size0)} + center0);
      const float mid1 = F32(double{F32(double{F32(e[1] / 10.0)} * size1)} + center1);
      float* box = boxes + (b * kNumPriors + i) * 4;
      box[0] = F32(double{mid0} - half0);
      box[1] = F32(double{mid1} - half1);
      box[2] = F32(double{mid0} + half0);
      box[3] = F32(double{mid1} + half1);
      // sigmoid of the face class (index 1 of background, face, unused).
      const double logit = cls[(b * kNumPriors + i) * 3 + 1];
      scores[b * kNumPriors + i] = F32(1.0 / (1.0 + std::exp(-logit)));
    }
  }
  return out;
}

absl::StatusOr<std::vector<FaceDetection>> SsdMobilenetv1::Detect(const RgbImage& image,
                                                                  const DetectOptions& options) {
  FER_RETURN_IF_ERROR(detector::ValidateImage(image));
  FER_RETURN_IF_ERROR(detector::ValidateOptions(options));
  c10::InferenceMode inference;
  const Output out = Forward(detector::ImageToBatchTensor(image, kInputSize, /*center=*/false));

  std::vector<std::array<float, 4>> boxes(kNumPriors);
  std::vector<float> scores(kNumPriors);
  const float* box_data = out.boxes.data_ptr<float>();
  const float* score_data = out.scores.data_ptr<float>();
  for (int i = 0; i < kNumPriors; ++i) {
    for (int j = 0; j < 4; ++j) boxes[i][j] = box_data[i * 4 + j];
    scores[i] = score_data[i];
  }
  const std::vector<int> indices = detector::SsdNonMaxSuppression(
      boxes, scores, options.max_results, kIouThreshold, options.min_score);

  // locateFaces: undo the padding (relative to the 512 square -> relative to
  // the image), then FaceDetection rescales by the image size.
  const detector::Dims reshaped =
      detector::ReshapedDimensions(image.width, image.height, kInputSize);
  const double pad_x = static_cast<double>(kInputSize) / reshaped.width;
  const double pad_y = static_cast<double>(kInputSize) / reshaped.height;
  std::vector<FaceDetection> faces;
  faces.reserve(indices.size());
  for (int idx : indices) {
    const std::array<float, 4>& b = boxes[static_cast<size_t>(idx)];
    const double top = std::max(0.0, double{b[0]}) * pad_y;
    const double bottom = std::min(1.0, double{b[2]}) * pad_y;
    const double left = std::max(0.0, double{b[1]}) * pad_x;
    const double right = std::min(1.0, double{b[3]}) * pad_x;
    // face-api's Rect rejects negative sizes (it throws); such a box lies
    // wholly outside the square and cannot be a face.
    if (right - left < 0 || bottom - top < 0) continue;
    FaceDetection face;
    face.score = scores[static_cast<size_t>(idx)];
    face.box.x = static_cast<float>(left * image.width);
    face.box.y = static_cast<float>(top * image.height);
    face.box.width = static_cast<float>((right - left) * image.width);
    face.box.height = static_cast<float>((bottom - top) * image.height);
    faces.push_back(face);
  }
  return faces;
}

}  // namespace fer
