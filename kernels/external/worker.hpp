// A persistent worker process that speaks one JSON object per line on its
// stdin and stdout (protocol: kernels/external/README.md). moecheck never
// waits on it without a deadline: a worker that hangs is killed, one that
// crashes or prints garbage is stopped, each with a WorkerError naming the
// command; the next call starts it afresh.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <string>

#include "core/error.hpp"

namespace moecheck::external {

// The kernel behind the worker failed on a case: a check failure (exit 1).
struct WorkerError : CheckFailure {
  using CheckFailure::CheckFailure;
};

class Worker {
 public:
  // `command` runs under /bin/sh -c in its own process group.
  Worker(std::string command, double timeout_s);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Starts the process if it is not running and returns its handshake line.
  const nlohmann::json& hello();
  // Sends one line, returns the reply line; WorkerError on crash, timeout,
  // a line that is not a JSON object, or the wrong id.
  nlohmann::json request(const nlohmann::json& line);
  const std::string& command() const { return command_; }
  void stop();  // kills the process group and reaps it

 private:
  void start();
  nlohmann::json read_line(const std::string& waiting_for);
  [[noreturn]] void fail(const std::string& why);

  std::string command_;
  double timeout_s_;
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  std::string buffer_;
  nlohmann::json hello_;
};

}  // namespace moecheck::external
