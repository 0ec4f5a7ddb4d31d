#ifndef FERSERVE_CLIENT_FERCTL_FRAME_MESSAGE_H_
#define FERSERVE_CLIENT_FERCTL_FRAME_MESSAGE_H_

#include "client/ferctl/frame_source.h"
#include "fer/v1/expression_service.pb.h"

namespace ferctl {

// Fills `frame` with the source frame's pixels as raw RGB8 (lossless, no
// encoding cost) and its timestamp.
void ToFrameMessage(const SourceFrame& source, fer::v1::Frame* frame);

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_FRAME_MESSAGE_H_
