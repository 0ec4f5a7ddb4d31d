// Writes the seed corpora of the fuzzers: valid records, blobs and bundles
// as the product writes them (run by scripts/fuzz --write-seeds).
#include <cstdio>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "lib/pft/model_bundle_codec.h"
#include "lib/pft/translator_codec.h"
#include "lib/store/profile_codec.h"
#include "lib/store/record_cipher.h"

namespace {

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: write_seeds CORPUS_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  cv::Mat image(6, 8, CV_8UC3, cv::Scalar(10, 120, 230));
  image.at<cv::Vec3b>(2, 3) = cv::Vec3b(255, 0, 0);
  for (const char* ext : {".png", ".jpg"}) {
    std::vector<uchar> bytes;
    cv::imencode(ext, image, bytes);
    Write(dir + "/frame_decoder/small" + ext, std::string(bytes.begin(), bytes.end()));
  }
  fer::Profile profile;
  profile.tenant = "t";
  profile.user_id = "u";
  profile.version = 3;
  profile.translator_version = 2;
  profile.bank.dim = 4;
  profile.bank.max_count = 8;
  profile.bank.features = {{1, 2, 3, 4}, {5, 6, 7, 8}};
  Write(dir + "/profile_record/meta", fer::EncodeProfileMeta(profile, 1));
  Write(dir + "/profile_record/bank", fer::EncodeFeatureBank(profile.bank));
  Write(dir + "/profile_record/translator", fer::EncodeTranslator(1, "weights"));
  auto cipher = *fer::RecordCipher::FromKey(std::string(32, 'k'), "fuzz");
  Write(dir + "/profile_record/sealed_meta",
        *cipher->Seal(fer::EncodeProfileMeta(profile, 1), "fer/v1/t/u/meta"));

  const fer::pft::Translator translator = *fer::pft::Translator::Create(4, 6, 1);
  Write(dir + "/translator_blob/translator", fer::pft::EncodeTranslator(translator));
  fer::pft::ModelBundle bundle{translator};
  bundle.feature_dim = 4;
  bundle.labels = {"neutral", "happy"};
  bundle.backbone_id = "b";
  for (fer::pft::FeatureStats* s : {&bundle.source_neutral, &bundle.source_neutral_translated}) {
    s->dim = 4;
    s->count = 2;
    s->mean.assign(4, 0.5f);
    s->covariance.assign(16, 0.1f);
  }
  bundle.training_config = {{"epochs", "1"}};
  Write(dir + "/translator_blob/bundle", fer::pft::EncodeModelBundle(bundle));
  return 0;
}
