#include "lib/model/net_input.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fer {
namespace {

// a + (b - a) * t as JavaScript evaluates it: in double, rounded after the
// product and after the sum (this file is compiled with -ffp-contract=off,
// see lib/CMakeLists.txt, so that no fused multiply-add skips a rounding).
inline double Lerp(double a, double b, double t) { return a + (b - a) * t; }

// A source row or column of the padded square for one output row or column:
// the two neighbours (region coordinates, -1 in the padding) and the weight
// of the second.
struct Tap {
  int first = -1;
  int second = -1;
  double frac = 0;
};

std::vector<Tap> Taps(int input_size, int side, int pad, int extent) {
  const double ratio = static_cast<double>(side) / static_cast<double>(input_size);
  auto source = [&](int i) { return i - pad >= 0 && i - pad < extent ? i - pad : -1; };
  std::vector<Tap> taps(input_size);
  for (int i = 0; i < input_size; ++i) {
    const double src = ratio * i;
    const int floor = std::max(0, static_cast<int>(std::floor(src)));
    const int ceil = std::min(side - 1, static_cast<int>(std::ceil(src)));
    taps[i] = {source(floor), source(ceil), src - floor};
  }
  return taps;
}

}  // namespace

void RegionToSquareInput(const ImageRegion& region, int input_size, bool center, float* out) {
  const RgbImage& image = *region.image;
  const PixelRect& rect = region.rect;
  const int side = std::max(rect.width, rect.height);
  const int diff = side - std::min(rect.width, rect.height);
  // padToSquare: Math.round(diff * (center ? 0.5 : 1)) appended, the rest
  // prepended, along the shorter axis.
  const int prepend = diff - (center ? (diff + 1) / 2 : diff);
  const int pad_x = rect.height > rect.width ? prepend : 0;
  const int pad_y = rect.width > rect.height ? prepend : 0;
  // Row y of the region, or null in the padding.
  auto row = [&](int y) -> const uint8_t* {
    return y < 0 ? nullptr : image.row(rect.y + y) + 3 * rect.x;
  };
  if (side == input_size) {
    // No resize: TF's weights are 0 and each value is the pixel itself.
    for (int r = 0; r < input_size; ++r) {
      const int y = r - pad_y;
      const uint8_t* src = y >= 0 && y < rect.height ? row(y) : nullptr;
      for (int c = 0; c < input_size; ++c) {
        const int x = c - pad_x;
        const bool inside = src != nullptr && x >= 0 && x < rect.width;
        for (int d = 0; d < 3; ++d) *out++ = inside ? src[3 * x + d] : 0.0f;
      }
    }
    return;
  }
  const std::vector<Tap> rows = Taps(input_size, side, pad_y, rect.height);
  const std::vector<Tap> cols = Taps(input_size, side, pad_x, rect.width);
  // resizeBilinear interpolates each source row along x, then between the
  // two rows along y. Consecutive output rows mostly share their source
  // rows, so each source row is interpolated along x once, into one of two
  // buffers (zeros for a padding row).
  const int row_values = 3 * input_size;
  std::vector<double> buffers(2 * static_cast<size_t>(row_values));
  int buffered[2] = {-2, -2};  // source row held by each buffer
  auto along_x = [&](int y, int keep) -> const double* {
    for (int b = 0; b < 2; ++b) {
      if (buffered[b] == y) return &buffers[b * static_cast<size_t>(row_values)];
    }
    const int b = buffered[0] == keep ? 1 : 0;  // never evict the other row in use
    buffered[b] = y;
    double* h = &buffers[b * static_cast<size_t>(row_values)];
    const uint8_t* src = row(y);
    if (src == nullptr) {
      std::fill(h, h + row_values, 0.0);  // Lerp(0, 0, t)
    } else {
      static constexpr uint8_t kPaddingPixel[3] = {0, 0, 0};
      for (const Tap& c : cols) {
        const uint8_t* left = c.first >= 0 ? src + 3 * c.first : kPaddingPixel;
        const uint8_t* right = c.second >= 0 ? src + 3 * c.second : kPaddingPixel;
        for (int d = 0; d < 3; ++d) *h++ = Lerp(left[d], right[d], c.frac);
      }
    }
    return &buffers[b * static_cast<size_t>(row_values)];
  };
  for (const Tap& r : rows) {
    const double* top = along_x(r.first, r.second);
    const double* bottom = along_x(r.second, r.first);
    for (int i = 0; i < row_values; ++i)
      *out++ = static_cast<float>(Lerp(top[i], bottom[i], r.frac));
  }
}

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
    RegionToSquareInput(region, input_size, /*center=*/true, out);
    out += static_cast<size_t>(input_size) * input_size * 3;
  }
  return batch;
}

}  // namespace fer
