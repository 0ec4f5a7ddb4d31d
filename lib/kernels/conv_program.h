#ifndef FERSERVE_LIB_KERNELS_CONV_PROGRAM_H_
#define FERSERVE_LIB_KERNELS_CONV_PROGRAM_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "lib/kernels/conv_kernels.h"

namespace fer::kernels {

// A feed-forward convolutional network as a list of conv_kernels layers over
// numbered activation slots, run on one image at a time. Slot 0 is the
// input; a slot may be rewritten by later layers (with another shape), so
// that a network runs in a few buffers that stay in the cache. Built once,
// then immutable; Run is thread-safe with one Workspace per concurrent run.
class ConvProgram {
 public:
  struct Shape {
    int height = 0;
    int width = 0;
    int channels = 0;
    long floats() const { return static_cast<long>(height) * width * channels; }
  };

  // Activation buffers for one run, sized for the program.
  class Workspace {
   public:
    ImageView slot(int index, const Shape& shape) {
      return {slots_[index].data(), shape.height, shape.width, shape.channels};
    }
    // Floats held in all slots.
    long floats() const {
      long total = 0;
      for (const CacheAlignedFloats& slot : slots_) total += static_cast<long>(slot.size());
      return total;
    }

   private:
    friend class ConvProgram;
    std::vector<CacheAlignedFloats> slots_;
  };

  // Workspaces kept for reuse: a run leases one and gives it back, so that
  // memory follows the number of runs at once, not the number of threads
  // that ever ran one. Thread-safe.
  class WorkspacePool {
   public:
    class Lease {
     public:
      Workspace& operator*() const { return *workspace_; }
      Workspace* operator->() const { return workspace_.get(); }
      Lease(Lease&&) = default;
      ~Lease();

     private:
      friend class WorkspacePool;
      Lease(WorkspacePool* pool, std::unique_ptr<Workspace> workspace)
          : pool_(pool), workspace_(std::move(workspace)) {}
      WorkspacePool* pool_;
      std::unique_ptr<Workspace> workspace_;
    };

    explicit WorkspacePool(const ConvProgram* program) : program_(program) {}
    // A workspace prepared for the program.
    Lease Take();
    // Workspaces made so far (the most runs that were at once).
    int size() const;

   private:
    const ConvProgram* program_;
    mutable absl::Mutex mu_;
    std::vector<std::unique_ptr<Workspace>> free_ ABSL_GUARDED_BY(mu_);
    int made_ ABSL_GUARDED_BY(mu_) = 0;
  };

  // Runs body(row_begin, row_end) over [0, rows), possibly split between
  // threads; returns when all parts are done.
  using RowSplitter = std::function<void(int rows, const std::function<void(int, int)>& body)>;

  explicit ConvProgram(const Shape& input);

  // A new slot; its shape is set by the first layer writing it.
  int NewSlot();

  // Appends a layer reading slot `src` (in its current shape) and writing
  // slot `dst` (src != dst, residual != dst); `residual` is a slot of the
  // output's shape or -1. See conv_kernels.h for what each computes.
  void Separable(int src, int dst, int stride, bool relu_input, DepthwiseFilter depthwise,
                 PackedMatrix pointwise, Activation activation, int residual = -1);
  void Conv3x3(int src, int dst, int stride, PackedMatrix filter, Activation activation,
               Padding padding = Padding::kSame);
  void Pointwise(int src, int dst, PackedMatrix filter, Activation activation);
  void MaxPool2x2(int src, int dst, int stride);
  // MaxPool2x2 of the layer just appended (a Separable or Conv3x3 layer
  // without a residual; dst other than its source) fused with it: the
  // layer's rows are computed a band at a time into a per-thread buffer that
  // stays in the cache and pooled from there into `dst`, so that the
  // layer's own output is never written out: its slot holds nothing after
  // Run, and a later layer reading it is a definition bug (abort).
  void ThenMaxPool2x2(int dst, int stride);

  // A slot's shape after the layers appended so far.
  const Shape& shape(int slot) const { return shapes_[slot]; }

  // Sizes `workspace` for this program (a no-op when it already fits).
  void Prepare(Workspace& workspace) const;

  // Runs the layers on the image in slot 0 of the prepared `workspace`.
  // With a splitter, each layer's rows are split between threads.
  void Run(Workspace& workspace, const RowSplitter& split = nullptr) const;

  // Multiply-adds per image.
  double multiply_adds() const { return multiply_adds_; }

  // The instruction set the layers run on: BestIsa() unless set (to one
  // IsaSupported says yes to).
  Isa isa() const { return isa_; }
  void set_isa(Isa isa) { isa_ = isa; }

 private:
  enum class Kind { kSeparable, kConv3x3, kPointwise, kMaxPool2x2 };
  struct Layer {
    Kind kind;
    int src, dst, residual;
    Shape in, out;
    int stride;
    Padding padding;
    bool relu_input;
    DepthwiseFilter depthwise;
    PackedMatrix filter;
    Activation activation;
    // ThenMaxPool2x2: the pool's stride (0: none), output slot and shape.
    int pool_stride = 0;
    int pool_dst = -1;
    Shape pooled;
  };

  void Append(Layer layer);
  // Output rows [begin, end) of a layer, into `out` (the layer's slot or a
  // band).
  void LayerRows(const Layer& layer, const ConstImageView& in, const OutputStage& stage,
                 const ImageView& out, int begin, int end) const;
  // Pooled rows [begin, end) of a layer with a fused pool.
  void PooledRows(const Layer& layer, const ConstImageView& in, const OutputStage& stage,
                  const ImageView& pooled, int begin, int end) const;

  std::vector<Shape> shapes_;
  // Whether a slot holds values after the layers so far (not the unwritten
  // output of a layer with a fused pool): what a layer may read.
  std::vector<bool> holds_values_;
  std::vector<Layer> layers_;
  double multiply_adds_ = 0;
  Isa isa_ = BestIsa();
};

}  // namespace fer::kernels

#endif  // FERSERVE_LIB_KERNELS_CONV_PROGRAM_H_
