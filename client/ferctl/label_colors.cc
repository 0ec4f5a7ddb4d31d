#include "client/ferctl/label_colors.h"

#include <functional>
#include <map>

namespace ferctl {

cv::Scalar LabelColor(const std::string& label) {
  static const std::map<std::string, cv::Scalar> kKnown = {
      {"neutral", {150, 150, 150}}, {"happy", {0, 190, 255}},    {"sad", {200, 110, 30}},
      {"angry", {40, 40, 220}},     {"fearful", {170, 70, 150}}, {"disgusted", {60, 150, 60}},
      {"surprised", {210, 200, 0}},
  };
  static const cv::Scalar kPalette[] = {{180, 119, 31}, {14, 127, 255},  {44, 160, 44},
                                        {40, 39, 214},  {189, 103, 148}, {75, 86, 140}};
  const auto it = kKnown.find(label);
  if (it != kKnown.end()) return it->second;
  return kPalette[std::hash<std::string>()(label) % (sizeof(kPalette) / sizeof(kPalette[0]))];
}

}  // namespace ferctl
