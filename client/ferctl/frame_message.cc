#include "client/ferctl/frame_message.h"

namespace ferctl {

void ToFrameMessage(const SourceFrame& source, fer::v1::Frame* frame) {
  fer::v1::RawImage* raw = frame->mutable_raw();
  raw->set_width(source.image.width);
  raw->set_height(source.image.height);
  raw->set_format(fer::v1::RawImage::RGB8);
  raw->set_pixels(source.image.pixels.data(), source.image.pixels.size());
  frame->set_timestamp_us(source.timestamp_us);
}

}  // namespace ferctl
