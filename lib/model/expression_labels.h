#ifndef FERSERVE_LIB_MODEL_EXPRESSION_LABELS_H_
#define FERSERVE_LIB_MODEL_EXPRESSION_LABELS_H_

#include <string>
#include <vector>

namespace fer {

// face-api's FACE_EXPRESSION_LABELS in FaceExpressionNet's output order:
// neutral, happy, sad, angry, fearful, disgusted, surprised. A header without
// LibTorch, for code that names the classes without running the net.
const std::vector<std::string>& FaceApiExpressionLabels();

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_EXPRESSION_LABELS_H_
