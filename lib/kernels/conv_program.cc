#include "lib/kernels/conv_program.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

namespace fer::kernels {

ConvProgram::ConvProgram(const Shape& input) {
  shapes_.push_back(input);
  capacity_.push_back(input.floats());
}

int ConvProgram::NewSlot() {
  shapes_.push_back({});
  capacity_.push_back(0);
  return static_cast<int>(shapes_.size()) - 1;
}

void ConvProgram::Append(Layer layer) {
  const int slots = static_cast<int>(shapes_.size());
  if (layer.src < 0 || layer.src >= slots || layer.dst <= 0 || layer.dst >= slots ||
      layer.src == layer.dst || layer.residual == layer.dst || layer.residual >= slots) {
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
  capacity_[layer.dst] = std::max(capacity_[layer.dst], layer.out.floats());
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

void ConvProgram::Prepare(Workspace& workspace) const {
  workspace.slots_.resize(capacity_.size());
  for (size_t i = 0; i < capacity_.size(); ++i) {
    if (static_cast<long>(workspace.slots_[i].size()) < capacity_[i]) {
      workspace.slots_[i].resize(capacity_[i]);
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

void ConvProgram::Run(Workspace& workspace, const RowSplitter& split) const {
  for (const Layer& layer : layers_) {
    const ConstImageView in = workspace.slot(layer.src, layer.in);
    const ImageView out = workspace.slot(layer.dst, layer.out);
    const OutputStage stage{
        layer.residual >= 0 ? workspace.slot(layer.residual, layer.out).data : nullptr,
        layer.activation};
    auto rows = [&](int begin, int end) {
      switch (layer.kind) {
        case Kind::kSeparable:
          SeparableConvRows(in, layer.stride, layer.relu_input, layer.depthwise, layer.filter,
                            stage, out, begin, end, isa_);
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
    };
    if (split) {
      split(out.height, rows);
    } else {
      rows(0, out.height);
    }
  }
}

}  // namespace fer::kernels
