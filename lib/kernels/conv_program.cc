#include "lib/kernels/conv_program.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace fer::kernels {

namespace {

// Floats of a fused pool's band of layer rows: 256 KiB, which stays in the
// L2 cache between the layer writing it and the pool reading it.
constexpr long kBandFloats = 65536;

}  // namespace

ConvProgram::ConvProgram(const Shape& input) {
  shapes_.push_back(input);
  holds_values_.push_back(true);
}

int ConvProgram::NewSlot() {
  shapes_.push_back({});
  holds_values_.push_back(false);
  return static_cast<int>(shapes_.size()) - 1;
}

void ConvProgram::Append(Layer layer) {
  const int slots = static_cast<int>(shapes_.size());
  if (layer.src < 0 || layer.src >= slots || layer.dst <= 0 || layer.dst >= slots ||
      layer.src == layer.dst || layer.residual == layer.dst || layer.residual >= slots ||
      !holds_values_[layer.src] || (layer.residual >= 0 && !holds_values_[layer.residual])) {
    std::abort();  // a network definition bug
  }
  layer.in = shapes_[layer.src];
  if (layer.residual >= 0) {
    const Shape& r = shapes_[layer.residual];
    if (r.height != layer.out.height || r.width != layer.out.width ||
        r.channels != layer.out.channels) {
      std::abort();
    }
  }
  shapes_[layer.dst] = layer.out;
  holds_values_[layer.dst] = true;
  layers_.push_back(std::move(layer));
}

void ConvProgram::Separable(int src, int dst, int stride, bool relu_input,
                            DepthwiseFilter depthwise, PackedMatrix pointwise,
                            Activation activation, int residual) {
  const Shape& in = shapes_.at(src);
  const Shape out{SameOutputSize(in.height, stride), SameOutputSize(in.width, stride),
                  pointwise.columns()};
  multiply_adds_ += static_cast<double>(out.height) * out.width *
                    (9.0 * in.channels + static_cast<double>(in.channels) * out.channels);
  Append({Kind::kSeparable,
          src,
          dst,
          residual,
          {},
          out,
          stride,
          Padding::kSame,
          relu_input,
          std::move(depthwise),
          std::move(pointwise),
          activation});
}

void ConvProgram::Conv3x3(int src, int dst, int stride, PackedMatrix filter, Activation activation,
                          Padding padding) {
  const Shape& in = shapes_.at(src);
  const Shape out{WindowOutputSize(in.height, stride, padding),
                  WindowOutputSize(in.width, stride, padding), filter.columns()};
  if (out.height == 0 || out.width == 0) std::abort();
  multiply_adds_ += static_cast<double>(out.height) * out.width * filter.rows() * out.channels;
  Append({Kind::kConv3x3,
          src,
          dst,
          -1,
          {},
          out,
          stride,
          padding,
          false,
          {},
          std::move(filter),
          activation});
}

void ConvProgram::Pointwise(int src, int dst, PackedMatrix filter, Activation activation) {
  const Shape& in = shapes_.at(src);
  const Shape out{in.height, in.width, filter.columns()};
  multiply_adds_ += static_cast<double>(out.height) * out.width * filter.rows() * out.channels;
  Append({Kind::kPointwise,
          src,
          dst,
          -1,
          {},
          out,
          1,
          Padding::kSame,
          false,
          {},
          std::move(filter),
          activation});
}

void ConvProgram::MaxPool2x2(int src, int dst, int stride) {
  const Shape& in = shapes_.at(src);
  const Shape out{SameOutputSize(in.height, stride), SameOutputSize(in.width, stride), in.channels};
  Append({Kind::kMaxPool2x2,
          src,
          dst,
          -1,
          {},
          out,
          stride,
          Padding::kSame,
          false,
          {},
          {},
          Activation::kNone});
}

void ConvProgram::ThenMaxPool2x2(int dst, int stride) {
  if (layers_.empty() || stride < 1) std::abort();
  Layer& layer = layers_.back();
  // The pool writes dst while other threads' bands still read the layer's
  // source.
  if ((layer.kind != Kind::kSeparable && layer.kind != Kind::kConv3x3) || layer.residual >= 0 ||
      layer.pool_stride != 0 || dst <= 0 || dst >= static_cast<int>(shapes_.size()) ||
      dst == layer.src) {
    std::abort();
  }
  layer.pool_stride = stride;
  layer.pool_dst = dst;
  layer.pooled = {SameOutputSize(layer.out.height, stride), SameOutputSize(layer.out.width, stride),
                  layer.out.channels};
  holds_values_[layer.dst] = false;
  shapes_[dst] = layer.pooled;
  holds_values_[dst] = true;
}

void ConvProgram::Prepare(Workspace& workspace) const {
  // Each slot as large as the largest image written to it.
  std::vector<long> capacity(shapes_.size(), 0);
  capacity[0] = shapes_[0].floats();
  for (const Layer& layer : layers_) {
    const int dst = layer.pool_stride > 0 ? layer.pool_dst : layer.dst;
    const Shape& out = layer.pool_stride > 0 ? layer.pooled : layer.out;
    capacity[dst] = std::max(capacity[dst], out.floats());
  }
  workspace.slots_.resize(capacity.size());
  for (size_t i = 0; i < capacity.size(); ++i) {
    if (static_cast<long>(workspace.slots_[i].size()) < capacity[i]) {
      workspace.slots_[i].resize(capacity[i]);
    }
  }
}

ConvProgram::WorkspacePool::Lease::~Lease() {
  if (workspace_ == nullptr) return;  // moved from
  absl::MutexLock lock(&pool_->mu_);
  pool_->free_.push_back(std::move(workspace_));
}

ConvProgram::WorkspacePool::Lease ConvProgram::WorkspacePool::Take() {
  std::unique_ptr<Workspace> workspace;
  {
    absl::MutexLock lock(&mu_);
    if (!free_.empty()) {
      workspace = std::move(free_.back());
      free_.pop_back();
    } else {
      ++made_;
    }
  }
  if (workspace == nullptr) workspace = std::make_unique<Workspace>();
  program_->Prepare(*workspace);
  return Lease(this, std::move(workspace));
}

int ConvProgram::WorkspacePool::size() const {
  absl::MutexLock lock(&mu_);
  return made_;
}

void ConvProgram::LayerRows(const Layer& layer, const ConstImageView& in, const OutputStage& stage,
                            const ImageView& out, int begin, int end) const {
  switch (layer.kind) {
    case Kind::kSeparable:
      SeparableConvRows(in, layer.stride, layer.relu_input, layer.depthwise, layer.filter, stage,
                        out, begin, end, isa_);
      break;
    case Kind::kConv3x3:
      Conv3x3Rows(in, layer.stride, layer.padding, layer.filter, stage, out, begin, end, isa_);
      break;
    case Kind::kPointwise:
      PointwiseRows(in, layer.filter, stage, out, begin, end, isa_);
      break;
    case Kind::kMaxPool2x2:
      MaxPool2x2Rows(in, layer.stride, out, begin, end);
      break;
  }
}

void ConvProgram::PooledRows(const Layer& layer, const ConstImageView& in, const OutputStage& stage,
                             const ImageView& pooled, int begin, int end) const {
  const int stride = layer.pool_stride;
  const long row_floats = static_cast<long>(layer.out.width) * layer.out.channels;
  // Pooled rows per band: its window rows (2 each, overlapping by one at
  // stride 1) fill about kBandFloats.
  const int chunk = static_cast<int>(std::max<long>(1, kBandFloats / (stride * row_floats)));
  thread_local CacheAlignedFloats buffer;
  const long band_floats = ((chunk - 1) * stride + 2) * row_floats;
  if (static_cast<long>(buffer.size()) < band_floats) buffer.resize(band_floats);
  for (int p = begin; p < end; p += chunk) {
    const int q = std::min(end, p + chunk);
    const int first = p * stride;
    const int last = std::min((q - 1) * stride + 2, layer.out.height);
    const ImageView band{buffer.data(), layer.out.height, layer.out.width, layer.out.channels,
                         first};
    LayerRows(layer, in, stage, band, first, last);
    MaxPool2x2Rows(band, stride, pooled, p, q);
  }
}

void ConvProgram::Run(Workspace& workspace, const RowSplitter& split) const {
  for (const Layer& layer : layers_) {
    const ConstImageView in = workspace.slot(layer.src, layer.in);
    const OutputStage stage{
        layer.residual >= 0 ? workspace.slot(layer.residual, layer.out).data : nullptr,
        layer.activation};
    std::function<void(int, int)> rows;
    int count = 0;
    if (layer.pool_stride > 0) {
      const ImageView pooled = workspace.slot(layer.pool_dst, layer.pooled);
      count = pooled.height;
      rows = [&, pooled](int begin, int end) { PooledRows(layer, in, stage, pooled, begin, end); };
    } else {
      const ImageView out = workspace.slot(layer.dst, layer.out);
      count = out.height;
      rows = [&, out](int begin, int end) { LayerRows(layer, in, stage, out, begin, end); };
    }
    if (split) {
      split(count, rows);
    } else {
      rows(0, count);
    }
  }
}

}  // namespace fer::kernels
