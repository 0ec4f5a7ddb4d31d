#ifndef FERSERVE_CLIENT_FERCTL_QUALITY_REPORT_H_
#define FERSERVE_CLIENT_FERCTL_QUALITY_REPORT_H_

#include "fer/v1/expression_service.pb.h"

namespace ferctl {

// Prints an adaptation's quality report, one field per line.
void PrintQualityReport(const fer::v1::QualityReport& report);

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_QUALITY_REPORT_H_
