#include "lib/model/net_input.h"

#include <algorithm>
#include <cmath>

namespace fer {
namespace {

// a + (b - a) * t as JavaScript evaluates it (no FMA contraction).
inline double Lerp(double a, double b, double t) {
  volatile double step = (b - a) * t;
  return a + step;
}

// Writes one region, padded and resized, to `out` (input_size^2 x 3 floats).
void RegionToInput(const ImageRegion& region, int input_size, float* out) {
  const RgbImage& image = *region.image;
  const PixelRect& rect = region.rect;
  const int side = std::max(rect.width, rect.height);
  const int diff = side - std::min(rect.width, rect.height);
  // padToSquare(center): round(diff / 2) appended, the rest prepended.
  const int prepend = diff - (diff + 1) / 2;
  const int pad_x = rect.height > rect.width ? prepend : 0;
  const int pad_y = rect.width > rect.height ? prepend : 0;
  // Pixel (row, col) of the padded square, channel c.
  auto pixel = [&](int row, int col, int c) -> double {
    const int y = row - pad_y;
    const int x = col - pad_x;
    if (y < 0 || y >= rect.height || x < 0 || x >= rect.width) return 0.0;
    return image.row(rect.y + y)[3 * (rect.x + x) + c];
  };
  const double ratio = static_cast<double>(side) / static_cast<double>(input_size);
  for (int r = 0; r < input_size; ++r) {
    const double src_row = ratio * r;
    const int row_floor = std::max(0, static_cast<int>(std::floor(src_row)));
    const double row_frac = src_row - row_floor;
    const int row_ceil = std::min(side - 1, static_cast<int>(std::ceil(src_row)));
    for (int c = 0; c < input_size; ++c) {
      const double src_col = ratio * c;
      const int col_floor = std::max(0, static_cast<int>(std::floor(src_col)));
      const double col_frac = src_col - col_floor;
      const int col_ceil = std::min(side - 1, static_cast<int>(std::ceil(src_col)));
      for (int d = 0; d < 3; ++d) {
        const double top =
            Lerp(pixel(row_floor, col_floor, d), pixel(row_floor, col_ceil, d), col_frac);
        const double bottom =
            Lerp(pixel(row_ceil, col_floor, d), pixel(row_ceil, col_ceil, d), col_frac);
        *out++ = static_cast<float>(Lerp(top, bottom, row_frac));
      }
    }
  }
}

}  // namespace

torch::Tensor CropsToBatchTensor(const std::vector<ImageRegion>& regions, int input_size) {
  torch::Tensor batch = torch::empty(
      {static_cast<int64_t>(regions.size()), input_size, input_size, 3}, torch::kFloat32);
  float* out = batch.data_ptr<float>();
  for (const ImageRegion& region : regions) {
    TORCH_CHECK(region.image != nullptr && !region.rect.empty() && region.rect.x >= 0 &&
                    region.rect.y >= 0 &&
                    region.rect.x + region.rect.width <= region.image->width &&
                    region.rect.y + region.rect.height <= region.image->height,
                "CropsToBatchTensor: region outside its image");
    RegionToInput(region, input_size, out);
    out += static_cast<size_t>(input_size) * input_size * 3;
  }
  return batch;
}

}  // namespace fer
