#include "reports/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace moecheck::report {

std::string format_duration(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return buf;
}

Progress::Progress(std::string what, int64_t total, bool enabled)
    : what_(std::move(what)), total_(total), enabled_(enabled && total > 0), tty_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()), last_line_(start_) {}

Progress::~Progress() { finish(); }

void Progress::step(const std::string& label) {
  ++done_;
  if (enabled_) draw(label);
}

void Progress::draw(const std::string& label) {
  const auto now = std::chrono::steady_clock::now();
  const double el = std::chrono::duration<double>(now - start_).count();
  const double eta = done_ > 0 ? el / static_cast<double>(done_) * static_cast<double>(total_ - done_) : 0;
  const int64_t pct = 100 * done_ / total_;
  if (tty_) {
    constexpr int kWidth = 30;
    const int fill = static_cast<int>(kWidth * done_ / total_);
    std::fprintf(stderr, "\r\033[K%s [%.*s%*s] %lld/%lld  %s elapsed, ETA %s  %.40s", what_.c_str(), fill,
                 "##############################", kWidth - fill, "", static_cast<long long>(done_),
                 static_cast<long long>(total_), format_duration(el).c_str(), format_duration(eta).c_str(),
                 label.c_str());
    std::fflush(stderr);
    return;
  }
  const bool due = pct / 5 != last_pct_ / 5 || std::chrono::duration<double>(now - last_line_).count() > 30 ||
                   done_ == total_;
  if (!due) return;
  last_pct_ = pct, last_line_ = now;
  std::fprintf(stderr, "%s %lld/%lld (%lld%%), %s elapsed, ETA %s: %s\n", what_.c_str(),
               static_cast<long long>(done_), static_cast<long long>(total_), static_cast<long long>(pct),
               format_duration(el).c_str(), format_duration(eta).c_str(), label.c_str());
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_ && tty_) std::fprintf(stderr, "\n");
}

}  // namespace moecheck::report
