#ifndef FERSERVE_LIB_MODEL_FACE_TYPES_H_
#define FERSERVE_LIB_MODEL_FACE_TYPES_H_

#include <string>
#include <vector>

namespace fer {

// An axis-aligned box in image pixels (origin top-left).
struct Box {
  float x = 0;
  float y = 0;
  float width = 0;
  float height = 0;

  float area() const { return width * height; }
};

struct Point {
  float x = 0;
  float y = 0;
};

// Intersection over union of two boxes, 0 when either is empty.
float IoU(const Box& a, const Box& b);

// One face found by a detector.
struct FaceDetection {
  Box box;
  float score = 0;  // detector confidence in [0, 1]
};

// Everything the models say about one face.
struct FaceAnalysis {
  FaceDetection detection;
  std::vector<Point> landmarks;      // 68 points, image pixels
  Box aligned_box;                   // box derived from landmarks (face-api's alignedRect)
  std::vector<float> probabilities;  // one per label, softmax
  std::vector<float> features;       // backbone feature vector (256-d for face-api)
};

// A linear classifier's weights on the CPU: logits = weight · x + bias, with
// weight [classes, dim] row-major (torch::nn::Linear's layout).
struct LinearLayerWeights {
  int classes = 0;
  int dim = 0;
  std::vector<float> weight;
  std::vector<float> bias;
};

// How the face-api networks run on the CPU: on ferserve's fused kernels
// (lib/kernels) or on LibTorch's operators (the straightforward port, kept
// as the reference the kernels are tested against). kAuto takes the fused
// kernels where the CPU has AVX2 or AVX-512 (there they measured 1.7 to 2.5
// times LibTorch's speed) and LibTorch's operators otherwise (the portable
// kernels measured slower than LibTorch's). On CUDA the networks always run
// on LibTorch.
enum class CpuKernels { kAuto, kNative, kLibTorch };

// "auto", "native" or "libtorch" (the --cpu_kernels flag's values); false
// for any other name.
bool ParseCpuKernels(const std::string& name, CpuKernels* kernels);
const char* CpuKernelsName(CpuKernels kernels);

// Whether networks on the CPU run on the fused kernels under `kernels`.
bool UsesFusedKernels(CpuKernels kernels);

// Where models run: "cpu", "cuda" or "cuda:N".
struct ModelDevice {
  std::string name = "cpu";
  CpuKernels cpu_kernels = CpuKernels::kAuto;
};

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_FACE_TYPES_H_
