#ifndef FERSERVE_CLIENT_FERCTL_LABEL_COLORS_H_
#define FERSERVE_CLIENT_FERCTL_LABEL_COLORS_H_

#include <opencv2/core.hpp>
#include <string>

namespace ferctl {

// One fixed BGR color per expression label, the same in annotated videos and
// timeline plots (a palette color for labels other than face-api's seven).
cv::Scalar LabelColor(const std::string& label);

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_LABEL_COLORS_H_
