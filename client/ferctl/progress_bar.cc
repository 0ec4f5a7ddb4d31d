#include "client/ferctl/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace ferctl {

constexpr int kBarWidth = 30;

ProgressBar::ProgressBar(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), terminal_(isatty(STDERR_FILENO) != 0) {}

ProgressBar::~ProgressBar() { Finish(); }

void ProgressBar::Update(int64_t done, const std::string& note) {
  done_ = done;
  note_ = note;
  if (!terminal_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw();
}

void ProgressBar::Finish() {
  if (finished_) return;
  finished_ = true;
  Draw();
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void ProgressBar::Draw() {
  std::string line = label_ + " ";
  if (total_ > 0) {
    const int filled = static_cast<int>(std::min<int64_t>(kBarWidth, done_ * kBarWidth / total_));
    line += "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] ";
    line += std::to_string(done_) + "/" + std::to_string(total_);
  } else {
    line += std::to_string(done_);
  }
  if (!note_.empty()) line += "  " + note_;
  if (terminal_) {
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
  } else {
    std::fprintf(stderr, "%s", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace ferctl
