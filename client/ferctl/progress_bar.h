#ifndef FERSERVE_CLIENT_FERCTL_PROGRESS_BAR_H_
#define FERSERVE_CLIENT_FERCTL_PROGRESS_BAR_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace ferctl {

// A one-line progress bar on stderr: "enroll [#####.....]  12/50  note".
// Redrawn in place (at most 10 times a second) when stderr is a terminal;
// otherwise only the final state is printed, by Finish().
class ProgressBar {
 public:
  // `total` < 0 when unknown (no bar, just the count).
  ProgressBar(std::string label, int64_t total);
  ~ProgressBar();

  void Update(int64_t done, const std::string& note = "");
  // Draws the final state and ends the line. Idempotent.
  void Finish();

 private:
  void Draw();

  std::string label_;
  int64_t total_;
  int64_t done_ = 0;
  std::string note_;
  bool terminal_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace ferctl

#endif  // FERSERVE_CLIENT_FERCTL_PROGRESS_BAR_H_
