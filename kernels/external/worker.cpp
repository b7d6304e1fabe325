#include "kernels/external/worker.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>

namespace moecheck::external {
namespace {

// A reply longer than this is garbage, not a protocol line.
constexpr size_t kMaxLine = 1 << 20;

std::string exit_text(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                                  strsignal(WTERMSIG(status)) + ")";
  return "stopped";
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

Worker::Worker(std::string command, double timeout_s) : command_(std::move(command)), timeout_s_(timeout_s) {
  // A write to a worker that died must be an error, not a fatal SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
}

Worker::~Worker() { stop(); }

void Worker::start() {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
    throw InputError("worker '" + command_ + "': cannot create pipes: " + std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) throw InputError("worker '" + command_ + "': cannot fork: " + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);  // its own group: a timeout kills the shell and everything it started
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    execl("/bin/sh", "sh", "-c", command_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);  // also here: no race with the child's own call
  close(in[0]);
  close(out[1]);
  pid_ = pid;
  to_child_ = in[1];
  from_child_ = out[0];
  buffer_.clear();
  hello_ = read_line("its handshake line");
  if (!hello_.is_object() || !hello_.contains("moecheck_worker"))
    fail("its first line is not a handshake ({\"moecheck_worker\": 1, ...}): " + hello_.dump().substr(0, 200));
}

void Worker::stop() {
  if (pid_ > 0) {
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (to_child_ >= 0) close(to_child_);
  if (from_child_ >= 0) close(from_child_);
  pid_ = -1, to_child_ = -1, from_child_ = -1;
}

void Worker::fail(const std::string& why) {
  std::string what = "worker '" + command_ + "' " + why;
  if (pid_ > 0) {
    int status = 0;
    // Dead already (EOF): say how it ended; alive: it is stopped now.
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      what += " (the process " + exit_text(status) + ")";
      pid_ = -1;
    }
  }
  stop();
  throw WorkerError(what);
}

nlohmann::json Worker::read_line(const std::string& waiting_for) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s_);
  for (;;) {
    if (const size_t nl = buffer_.find('\n'); nl != std::string::npos) {
      const std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object())
        fail("printed a line that is not a JSON object while moecheck waited for " + waiting_for + ": '" +
             line.substr(0, 200) + "' (stdout is the protocol; print logs to stderr)");
      return j;
    }
    if (buffer_.size() > kMaxLine) fail("printed over 1 MiB without a newline");
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0)
      fail("did not answer within " + seconds_text(timeout_s_) + " s (waiting for " + waiting_for +
           "; --exec-timeout sets the limit) and was killed");
    pollfd p{from_child_, POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;  // the deadline check above ends it
    char buf[65536];
    const ssize_t n = read(from_child_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
      fail("closed its stdout while moecheck waited for " + waiting_for + ": the process " + exit_text(status));
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

const nlohmann::json& Worker::hello() {
  if (pid_ <= 0) start();
  return hello_;
}

nlohmann::json Worker::request(const nlohmann::json& line) {
  hello();
  const std::string text = line.dump() + "\n";
  for (size_t at = 0; at < text.size();) {
    const ssize_t n = write(to_child_, text.data() + at, text.size() - at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("stopped reading its stdin (" + std::string(std::strerror(errno)) + ")");
    at += static_cast<size_t>(n);
  }
  nlohmann::json reply = read_line("the reply to request " + line.value("id", nlohmann::json()).dump());
  if (reply.value("id", nlohmann::json()) != line.value("id", nlohmann::json()))
    fail("answered request " + line["id"].dump() + " with id " + reply.value("id", nlohmann::json()).dump());
  return reply;
}

}  // namespace moecheck::external
