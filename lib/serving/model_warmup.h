#ifndef FERSERVE_LIB_SERVING_MODEL_WARMUP_H_
#define FERSERVE_LIB_SERVING_MODEL_WARMUP_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/model/face_analyzer.h"
#include "lib/vision/image.h"

namespace fer {

// One network execution of a warm-up and its wall time.
struct WarmupStep {
  std::string what;  // e.g. "the backbone at batch 32"
  double seconds = 0;
};

// Runs the backbone and head on a batch of face crops, as the server does
// (through its DynamicBatcher, so that the batcher's own thread is the one
// warmed).
using BackboneRunner =
    std::function<absl::StatusOr<BackboneOutput>(const std::vector<RgbImage>& crops)>;

// Runs every network a request can reach once, on a synthetic frame, before
// the server listens: the face detector, the landmark net (on a given box,
// as a tracked frame runs it), `run_backbone` at each of `backbone_batches`
// faces (the batcher's extremes: 1 and its maximum; each size once), a clip
// model's clip backbone, and the expression head alone (the personalized
// path). The first execution of a network pays once for what later ones
// reuse: buffers, worker threads and LibTorch's per-thread state; on a GPU
// also the CUDA context, cuBLAS/cuDNN handles and loading each kernel. A
// failure here (a GPU that cannot hold the largest batch) stops the
// start-up instead of failing users' first requests: the error names the
// step, with CallModel's codes (RESOURCE_EXHAUSTED when memory ran out).
absl::StatusOr<std::vector<WarmupStep>> WarmUpModels(FaceAnalyzer& analyzer,
                                                     const BackboneRunner& run_backbone,
                                                     const std::vector<int>& backbone_batches);

// "face detection 61 ms, face landmarks 2 ms, ..." for the start-up log.
std::string DescribeWarmup(const std::vector<WarmupStep>& steps);

}  // namespace fer

#endif  // FERSERVE_LIB_SERVING_MODEL_WARMUP_H_
