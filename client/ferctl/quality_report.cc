#include "client/ferctl/quality_report.h"

#include <cstdio>

namespace ferctl {

void PrintQualityReport(const fer::v1::QualityReport& report) {
  std::printf("quality report:\n");
  std::printf("  neutral rate       %.3f -> %.3f  (enrolled neutral features classified neutral)\n",
              report.neutral_rate_before(), report.neutral_rate_after());
  std::printf("  mean KL to generic %.4f\n", report.mean_kl_to_generic());
  std::printf("  features used      %u\n", report.features_used());
  std::printf("  steps              %u%s\n", report.steps(),
              report.early_stopped() ? " (stopped early)" : "");
}

}  // namespace ferctl
