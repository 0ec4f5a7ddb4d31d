#ifndef FERSERVE_LIB_MODEL_NET_INPUT_H_
#define FERSERVE_LIB_MODEL_NET_INPUT_H_

#include <torch/torch.h>

#include <vector>

#include "lib/vision/image.h"

namespace fer {

// A rectangle of whole pixels, e.g. face-api's clipped and floored face box.
struct PixelRect {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;

  bool empty() const { return width <= 0 || height <= 0; }
};

// A region of an image: what face-api's extractFaceTensors slices out.
struct ImageRegion {
  const RgbImage* image = nullptr;
  PixelRect rect;  // must lie inside *image and be non-empty
};

// face-api's NetInput.toBatchTensor(input_size, isCenterInputs = true) for
// face crops: each region is zero-padded to a square as padToSquare(x, true)
// does (the larger half of an odd difference at the bottom/right) and, when
// that square is not input_size already, resized with TF's resizeBilinear
// (alignCorners = false, halfPixelCenters = false). Bit-identical to
// tf::ResizeBilinear(tf::PadToSquare(crop, true), input_size, input_size),
// without materializing the padded square. Returns a CPU float32 tensor
// [B, input_size, input_size, 3] (NHWC) of RGB values in 0..255.
torch::Tensor CropsToBatchTensor(const std::vector<ImageRegion>& regions, int input_size);

// face-api's padToSquare(x, center) then, unless the square is input_size
// already, tf.image.resizeBilinear(alignCorners = false, halfPixelCenters =
// false) on one region (inside its image, non-empty), without
// materializing the padded square: writes input_size x input_size x 3
// floats (RGB 0..255) to `out`. Not centered, all padding goes at the
// bottom/right; centered, round(diff / 2) of it.
void RegionToSquareInput(const ImageRegion& region, int input_size, bool center, float* out);

// The whole of `image` as one region.
inline ImageRegion WholeImage(const RgbImage& image) {
  return {&image, PixelRect{0, 0, image.width, image.height}};
}

}  // namespace fer

#endif  // FERSERVE_LIB_MODEL_NET_INPUT_H_
