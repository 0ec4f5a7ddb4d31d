#ifndef FERSERVE_LIB_MODEL_LINEAR_SOFTMAX_H_
#define FERSERVE_LIB_MODEL_LINEAR_SOFTMAX_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/model/face_types.h"

namespace fer {

// A classifier head on the CPU: for each of `batch` feature rows
// (`features`, [batch, dim] row-major), softmax(weight · x + bias) into
// `probabilities` ([batch, classes] row-major), with `weight` [classes, dim]
// row-major and `bias` [classes]. Plain loops, no LibTorch: LibTorch 2.x
// opens an OpenMP parallel region for a softmax of a few rows, and its
// threads then spin on the cores that the fused kernels' workers run the
// next batch on (the backbone at batch 32 lost a quarter of its faces/s to
// it on LibTorch 2.14).
void LinearSoftmax(const float* weight, const float* bias, int classes, int dim,
                   const float* features, int batch, float* probabilities);

// OK when `layer` has classes > 0 and dim > 0 and holds classes x dim
// weights and classes biases; InvalidArgument otherwise.
absl::Status CheckLinearLayer(const LinearLayerWeights& layer);

// The same for `head` on `batch` feature rows held in `features`: batch x
// head.classes probabilities, row-major; InvalidArgument when `features` is
// not batch x head.dim values or CheckLinearLayer(head) fails.
absl::StatusOr<std::vector<float>> LinearSoftmax(const LinearLayerWeights& head,
                                                 const std::vector<float>& features, int batch);

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_LINEAR_SOFTMAX_H_
