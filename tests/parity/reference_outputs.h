#ifndef FERSERVE_TESTS_PARITY_REFERENCE_OUTPUTS_H_
#define FERSERVE_TESTS_PARITY_REFERENCE_OUTPUTS_H_

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/model/face_types.h"
#include "tests/test_assets.h"

namespace fer::testing {

// One face as the Node.js face-api reference saw it.
struct ReferenceFace {
  Box box;
  float score = 0;
  std::vector<Point> landmarks;
  Box aligned_box;
  std::vector<float> expressions;
  std::vector<float> feature;

  int TopLabel() const {
    int best = 0;
    for (int i = 1; i < static_cast<int>(expressions.size()); ++i) {
      if (expressions[i] > expressions[best]) best = i;
    }
    return best;
  }
};

struct ReferenceOutputs {
  std::vector<std::string> labels;
  // PNG file name (in FramesDir()) -> faces in face-api's order.
  std::map<std::string, std::vector<ReferenceFace>> images;
};

// Folder of the PNG frames the reference ran on.
inline std::string FramesDir() { return FixturesDir() + "/frames"; }

// Reads FixturesDir()/reference.json (written by parity/make_fixtures.sh).
inline ReferenceOutputs LoadReferenceOutputs() {
  std::ifstream in(FixturesDir() + "/reference.json");
  const nlohmann::json json = nlohmann::json::parse(in);
  auto box = [](const nlohmann::json& b) {
    return Box{b["x"].get<float>(), b["y"].get<float>(), b["width"].get<float>(),
               b["height"].get<float>()};
  };
  ReferenceOutputs out;
  out.labels = json["expression_labels"].get<std::vector<std::string>>();
  for (const auto& image : json["images"]) {
    std::vector<ReferenceFace>& faces = out.images[image["file"].get<std::string>()];
    for (const auto& f : image["faces"]) {
      ReferenceFace face;
      face.box = box(f["box"]);
      face.score = f["score"].get<float>();
      for (const auto& p : f["landmarks"]) face.landmarks.push_back({p[0], p[1]});
      face.aligned_box = box(f["aligned_box"]);
      face.expressions = f["expressions"].get<std::vector<float>>();
      face.feature = f["feature"].get<std::vector<float>>();
      faces.push_back(std::move(face));
    }
  }
  return out;
}

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_PARITY_REFERENCE_OUTPUTS_H_
