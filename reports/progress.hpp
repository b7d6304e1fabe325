// Progress of a long sweep: a redrawn bar with ETA on a terminal, plain
// lines (at most one per ~5 % or 30 s) when stderr is a log file.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace moecheck::report {

class Progress {
 public:
  Progress(std::string what, int64_t total, bool enabled = true);
  ~Progress();
  void step(const std::string& label);  // one unit done
  void finish();

 private:
  void draw(const std::string& label);
  std::string what_;
  int64_t total_, done_ = 0;
  bool enabled_, tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_line_;
  int64_t last_pct_ = -1;
};

std::string format_duration(double seconds);

}  // namespace moecheck::report
