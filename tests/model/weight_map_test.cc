#include "lib/model/weight_map.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "tests/file_contents.h"
#include "tests/test_assets.h"

namespace fer {
namespace {

namespace fs = std::filesystem;

// A fresh temporary folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "weight_map_test_XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Copies face-api's expression model into `dir`, returning the manifest path.
std::string CopyExpressionModel(const TempDir& dir) {
  for (const char* name :
       {"face_expression_model-weights_manifest.json", "face_expression_model.bin"}) {
    fs::copy_file(testing::ModelDir() + "/" + name, dir.file(name));
  }
  return dir.file("face_expression_model-weights_manifest.json");
}

template <typename T>
void Append(std::string* bytes, T value) {
  bytes->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

TEST(WeightMapTest, LoadsFaceApiExpressionModel) {
  absl::StatusOr<WeightMap> map = LoadFaceApiWeights(testing::ModelDir(), "face_expression_model");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->size(), 49u);  // dense0: 2 + 3 x 3, dense1..3: 4 x 3 each, fc: 2
  EXPECT_EQ(map->names().front(), "dense0/conv0/filters");
  absl::StatusOr<torch::Tensor> fc = map->Take("fc/weights", {256, 7});
  ASSERT_TRUE(fc.ok()) << fc.status();
  EXPECT_EQ(fc->scalar_type(), torch::kFloat32);
  // Dequantized uint8: every value is q * scale + min for some q in 0..255.
  const double scale = 0.004834276554631252, min = -0.7203072066400565;
  for (float v : std::vector<float>(fc->data_ptr<float>(), fc->data_ptr<float>() + fc->numel())) {
    const double q = std::round((v - min) / scale);
    ASSERT_GE(q, 0);
    ASSERT_LE(q, 255);
    ASSERT_EQ(v, static_cast<float>(q * scale + min));
  }
}

TEST(WeightMapTest, LoadsEveryShippedManifest) {
  for (const char* model :
       {"face_expression_model", "face_landmark_68_model", "ssd_mobilenetv1_model",
        "tiny_face_detector_model", "face_recognition_model", "age_gender_model"}) {
    absl::StatusOr<WeightMap> map = LoadFaceApiWeights(testing::ModelDir(), model);
    EXPECT_TRUE(map.ok()) << model << ": " << map.status();
  }
}

TEST(WeightMapTest, DecodesEveryDtypeExactly) {
  TempDir dir;
  WriteFile(dir.file("m-weights_manifest.json"), R"([{
    "paths": ["m.bin"],
    "weights": [
      {"name": "u8", "shape": [2, 2], "dtype": "float32",
       "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
      {"name": "u8odd", "shape": [1], "dtype": "float32",
       "quantization": {"dtype": "uint8", "scale": 0.1, "min": 0.3}},
      {"name": "u16", "shape": [2], "dtype": "float32",
       "quantization": {"dtype": "uint16", "scale": 0.25, "min": 2}},
      {"name": "f16", "shape": [4], "dtype": "float32", "quantization": {"dtype": "float16"}},
      {"name": "i32q", "shape": [3], "dtype": "int32",
       "quantization": {"dtype": "uint8", "scale": 0.5, "min": 0}},
      {"name": "f32", "shape": [2], "dtype": "float32"},
      {"name": "i32", "shape": [], "dtype": "int32"},
      {"name": "b", "shape": [2], "dtype": "bool"}
    ]}])");
  std::string bin;
  for (uint8_t q : {0, 1, 2, 255}) Append<uint8_t>(&bin, q);
  Append<uint8_t>(&bin, 7);
  for (uint16_t q : {0, 65535}) Append<uint16_t>(&bin, q);
  for (uint16_t h : {0x3C00, 0xC000, 0x7BFF, 0x0001}) Append<uint16_t>(&bin, h);
  for (uint8_t q : {1, 3, 4}) Append<uint8_t>(&bin, q);
  for (float f : {1.5f, -0.25f}) Append<float>(&bin, f);
  Append<int32_t>(&bin, -42);
  for (uint8_t b : {0, 1}) Append<uint8_t>(&bin, b);
  WriteFile(dir.file("m.bin"), bin);

  absl::StatusOr<WeightMap> map = LoadWeightMap(dir.file("m-weights_manifest.json"));
  ASSERT_TRUE(map.ok()) << map.status();
  torch::Tensor u8 = *map->Take("u8", {2, 2});
  EXPECT_EQ(u8[0][0].item<float>(), -1.0f);
  EXPECT_EQ(u8[0][1].item<float>(), -0.5f);
  EXPECT_EQ(u8[1][0].item<float>(), 0.0f);
  EXPECT_EQ(u8[1][1].item<float>(), 126.5f);
  // 7 * 0.1 + 0.3 in double (0.7000000000000001 + 0.3 = 1.0000000000000002), then float32.
  EXPECT_EQ(map->Take("u8odd", {1})->item<float>(), static_cast<float>(7 * 0.1 + 0.3));
  torch::Tensor u16 = *map->Take("u16", {2});
  EXPECT_EQ(u16[0].item<float>(), 2.0f);
  EXPECT_EQ(u16[1].item<float>(), 65535 * 0.25f + 2);
  torch::Tensor f16 = *map->Take("f16", {4});
  EXPECT_EQ(f16[0].item<float>(), 1.0f);
  EXPECT_EQ(f16[1].item<float>(), -2.0f);
  EXPECT_EQ(f16[2].item<float>(), 65504.0f);
  EXPECT_EQ(f16[3].item<float>(), std::ldexp(1.0f, -24));
  torch::Tensor i32q = *map->Take("i32q", {3});
  EXPECT_EQ(i32q.scalar_type(), torch::kInt32);
  // Math.round: 0.5 -> 1, 1.5 -> 2, 2 -> 2.
  EXPECT_EQ(i32q[0].item<int32_t>(), 1);
  EXPECT_EQ(i32q[1].item<int32_t>(), 2);
  EXPECT_EQ(i32q[2].item<int32_t>(), 2);
  torch::Tensor f32 = *map->Take("f32", {-1});
  EXPECT_EQ(f32[1].item<float>(), -0.25f);
  EXPECT_EQ(map->Take("i32", {})->item<int32_t>(), -42);
  torch::Tensor b = *map->Take("b", {2});
  EXPECT_EQ(b.scalar_type(), torch::kBool);
  EXPECT_TRUE(b[1].item<bool>());
  EXPECT_TRUE(map->Unused().empty());
  EXPECT_TRUE(map->CheckAllUsed().ok());
}

// Quantized int32 values outside int32's range are stored as tfjs' Int32Array
// stores them (modulo 2^32; infinities as 0). Converting them with a cast was
// undefined behaviour (found by the weight_manifest fuzzer).
TEST(WeightMapTest, OutOfRangeQuantizedInt32WrapsLikeAnInt32Array) {
  TempDir dir;
  WriteFile(dir.file("m.json"), R"([{"paths": ["m.bin"], "weights": [
      {"name": "big", "shape": [3], "dtype": "int32",
       "quantization": {"dtype": "uint8", "scale": 1e9, "min": -2e9}},
      {"name": "inf", "shape": [2], "dtype": "int32",
       "quantization": {"dtype": "uint16", "scale": 1e308, "min": 0}}]}])");
  std::string bin;
  for (uint8_t q : {0, 255, 3}) Append<uint8_t>(&bin, q);
  for (uint16_t q : {65535, 0}) Append<uint16_t>(&bin, q);
  WriteFile(dir.file("m.bin"), bin);
  absl::StatusOr<WeightMap> map = LoadWeightMap(dir.file("m.json"));
  ASSERT_TRUE(map.ok()) << map.status();
  torch::Tensor big = *map->Take("big", {3});
  EXPECT_EQ(big[0].item<int32_t>(), -2000000000);
  EXPECT_EQ(big[1].item<int32_t>(), -403070464);  // 253e9 mod 2^32
  EXPECT_EQ(big[2].item<int32_t>(), 1000000000);
  torch::Tensor inf = *map->Take("inf", {2});
  EXPECT_EQ(inf[0].item<int32_t>(), 0);  // 65535 * 1e308 = infinity
  EXPECT_EQ(inf[1].item<int32_t>(), 0);
}

TEST(WeightMapTest, RoundToInt32FollowsMathRoundAndToInt32) {
  EXPECT_EQ(RoundToInt32LikeJs(0.49999999999999994), 0);  // floor(x + 0.5) gives 1
  EXPECT_EQ(RoundToInt32LikeJs(2.5), 3);
  EXPECT_EQ(RoundToInt32LikeJs(-2.5), -2);
  EXPECT_EQ(RoundToInt32LikeJs(-2.6), -3);
  EXPECT_EQ(RoundToInt32LikeJs(2147483647.0), 2147483647);
  EXPECT_EQ(RoundToInt32LikeJs(2147483648.0), -2147483647 - 1);
  EXPECT_EQ(RoundToInt32LikeJs(-2147483649.0), 2147483647);
  EXPECT_EQ(RoundToInt32LikeJs(4294967301.0), 5);
  EXPECT_EQ(RoundToInt32LikeJs(1e300), 0);  // a multiple of 2^32
  EXPECT_EQ(RoundToInt32LikeJs(std::numeric_limits<double>::quiet_NaN()), 0);
  EXPECT_EQ(RoundToInt32LikeJs(-std::numeric_limits<double>::infinity()), 0);
}

// A zero extent no longer lets the other extents be absurd (their product
// overflows in tensor libraries); nor do extents beyond int64.
TEST(WeightMapTest, AbsurdExtentsAreInvalidArgument) {
  TempDir dir;
  WriteFile(dir.file("x.bin"), "");
  for (const char* shape :
       {"[0, 4611686018427387904]", "[18446744073709551615]", "[0, 9223372036854775807, 2]"}) {
    WriteFile(dir.file("m.json"),
              std::string(R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": )") + shape +
                  R"(, "dtype": "float32"}]}])");
    absl::StatusOr<WeightMap> map = LoadWeightMap(dir.file("m.json"));
    EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument) << shape;
    EXPECT_NE(map.status().message().find("'w'"), std::string::npos) << map.status();
  }
}

TEST(WeightMapTest, TakeRejectsMissingAndMisShapedTensors) {
  absl::StatusOr<WeightMap> map = LoadFaceApiWeights(testing::ModelDir(), "face_expression_model");
  ASSERT_TRUE(map.ok()) << map.status();
  absl::StatusOr<torch::Tensor> missing = map->Take("fc/nope", {7});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("fc/nope"), std::string::npos);
  absl::StatusOr<torch::Tensor> wrong = map->Take("fc/weights", {7, 256});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("fc/weights"), std::string::npos);
  EXPECT_NE(wrong.status().message().find("[256,7]"), std::string::npos);
  EXPECT_FALSE(map->CheckAllUsed().ok());  // nothing taken yet
}

TEST(WeightMapTest, TruncatedBinIsDataLossNamingFileAndTensor) {
  TempDir dir;
  const std::string manifest = CopyExpressionModel(dir);
  const std::string bin = testing::ReadFileContents(dir.file("face_expression_model.bin"));
  WriteFile(dir.file("face_expression_model.bin"), bin.substr(0, bin.size() - 10));
  absl::StatusOr<WeightMap> map = LoadWeightMap(manifest);
  ASSERT_FALSE(map.ok());
  EXPECT_EQ(map.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(map.status().message().find("face_expression_model.bin"), std::string::npos)
      << map.status();
  EXPECT_NE(map.status().message().find("fc/bias"), std::string::npos) << map.status();
  EXPECT_NE(map.status().message().find("truncated"), std::string::npos) << map.status();
}

TEST(WeightMapTest, OverlongBinIsDataLoss) {
  TempDir dir;
  const std::string manifest = CopyExpressionModel(dir);
  WriteFile(dir.file("face_expression_model.bin"),
            testing::ReadFileContents(dir.file("face_expression_model.bin")) + "junk");
  absl::StatusOr<WeightMap> map = LoadWeightMap(manifest);
  EXPECT_EQ(map.status().code(), absl::StatusCode::kDataLoss) << map.status();
}

TEST(WeightMapTest, MissingFilesAreNotFound) {
  TempDir dir;
  absl::StatusOr<WeightMap> no_manifest = LoadWeightMap(dir.file("absent.json"));
  EXPECT_EQ(no_manifest.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(no_manifest.status().message().find("absent.json"), std::string::npos);

  const std::string manifest = CopyExpressionModel(dir);
  fs::remove(dir.file("face_expression_model.bin"));
  absl::StatusOr<WeightMap> no_bin = LoadWeightMap(manifest);
  EXPECT_EQ(no_bin.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(no_bin.status().message().find("face_expression_model.bin"), std::string::npos)
      << no_bin.status();
}

TEST(WeightMapTest, CorruptManifestIsInvalidArgumentNamingTheFile) {
  TempDir dir;
  const std::string manifest = CopyExpressionModel(dir);
  const std::string text = testing::ReadFileContents(manifest);
  WriteFile(manifest, text.substr(0, text.size() / 2));  // cut mid-JSON
  absl::StatusOr<WeightMap> map = LoadWeightMap(manifest);
  EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(map.status().message().find(manifest), std::string::npos) << map.status();
}

TEST(WeightMapTest, MalformedEntriesAreInvalidArgumentNamingTheTensor) {
  TempDir dir;
  WriteFile(dir.file("x.bin"), std::string(8, '\0'));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "complex128"}]}])",
       "complex128"},
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": [-2], "dtype": "float32"}]}])",
       "'w'"},
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "float32",
           "quantization": {"dtype": "uint8"}}]}])",
       "scale"},
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "float32",
           "quantization": {"dtype": "int4", "scale": 1, "min": 0}}]}])",
       "int4"},
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": [1], "dtype": "float32"},
                                            {"name": "w", "shape": [1], "dtype": "float32"}]}])",
       "more than once"},
      {R"([{"paths": ["x.bin"], "weights": [{"shape": [2], "dtype": "float32"}]}])",
       "no string \"name\""},
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": 2, "dtype": "float32"}]}])",
       "'w') has no \"shape\" array"},
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": [2]}]}])",
       "'w') has no string \"dtype\""},
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "float32",
           "quantization": "uint8"}]}])",
       "'w') has a non-object \"quantization\""},
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "float32",
           "quantization": {"scale": 1, "min": 0}}]}])",
       "'w') has no quantization dtype"},
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "bool",
           "quantization": {"dtype": "uint8", "scale": 1, "min": 0}}]}])",
       "'w') quantizes a bool tensor"},
      {R"([{"paths": ["x.bin"], "weights": [{"name": "w", "shape": [2], "dtype": "int32",
           "quantization": {"dtype": "float16"}}]}])",
       "'w') is quantized to float16 but has dtype int32"},
      {R"({"paths": ["x.bin"]})", "array"},
      {R"([{"weights": []}])", "paths"},
  };
  for (const auto& [json, expected] : cases) {
    WriteFile(dir.file("m.json"), json);
    absl::StatusOr<WeightMap> map = LoadWeightMap(dir.file("m.json"));
    EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument) << json;
    EXPECT_NE(map.status().message().find(expected), std::string::npos) << map.status();
  }
}

}  // namespace
}  // namespace fer
