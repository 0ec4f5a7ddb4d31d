#ifndef FERSERVE_CLIENT_FERCTL_PREDICTION_TABLE_H_
#define FERSERVE_CLIENT_FERCTL_PREDICTION_TABLE_H_

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "fer/v1/expression_service.pb.h"

namespace ferctl {

// Prints one row per answer as it arrives (frame, time, top label and
// probability, every class's probability, model, server latency), and
// counts top labels for a summary.
class PredictionTable {
 public:
  PredictionTable(std::vector<std::string> labels, FILE* out);

  void PrintHeader();
  void PrintRow(double t_s, const fer::v1::PredictResponse& answer);
  // Counts an answer without printing it.
  void Count(const fer::v1::PredictResponse& answer);

  // "150 frames, 148 with a face; generic: neutral 62.2%, happy 37.8%".
  std::string Summary() const;

 private:
  std::vector<std::string> labels_;
  FILE* out_;
  int frames_ = 0;
  int with_face_ = 0;
  std::string model_;
  std::map<std::string, int> top_counts_;
};

// "personalized v3" or "generic".
std::string ModelName(const fer::v1::PredictResponse& answer);

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_PREDICTION_TABLE_H_
