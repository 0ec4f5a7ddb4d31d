#include "lib/model/expression_labels.h"

namespace fer {

const std::vector<std::string>& FaceApiExpressionLabels() {
  static const auto* const labels = new std::vector<std::string>{
      "neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"};
  return *labels;
}

}  // namespace fer
