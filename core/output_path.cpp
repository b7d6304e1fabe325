#include "core/output_path.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "core/error.hpp"

namespace moecheck {
namespace fs = std::filesystem;

void check_output_file(const std::string& path, const std::string& flag, const std::vector<std::string>& inputs) {
  if (path.empty()) throw InputError(flag + " is empty");
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (fs::exists(st)) {
    if (!fs::is_regular_file(st))
      throw InputError(flag + " '" + path + "' exists and is not a regular file (a directory, FIFO or device is "
                       "never overwritten)");
    for (const std::string& in : inputs)
      if (fs::equivalent(path, in, ec))
        throw InputError(flag + " '" + path + "' is the input file '" + in + "': writing it would destroy the input");
    return;
  }
  const fs::path parent = fs::absolute(fs::path(path), ec).parent_path();
  if (!fs::is_directory(parent, ec))
    throw InputError(flag + " '" + path + "': directory '" + parent.string() + "' does not exist");
  if (access(parent.c_str(), W_OK | X_OK) != 0)
    throw InputError(flag + " '" + path + "': directory '" + parent.string() + "' is not writable");
}

void check_output_dir(const std::string& path, const std::string& flag) {
  if (path.empty()) throw InputError(flag + " is empty");
  std::error_code ec;
  const fs::path p = fs::absolute(fs::path(path), ec);
  // The writer creates missing directories (mkdir -p), so the nearest
  // existing ancestor decides: it must be a writable directory.
  fs::path at = p;
  while (!fs::exists(at, ec) && at.has_parent_path() && at.parent_path() != at) at = at.parent_path();
  if (!fs::is_directory(at, ec)) {
    throw InputError(flag + " '" + path + "': '" + at.string() + "' exists and is not a directory");
  }
  if (access(at.c_str(), W_OK | X_OK) != 0) {
    throw InputError(flag + " '" + path + "': directory '" + at.string() + "' is not writable");
  }
}

namespace {

// Paths the signal handler unlinks. Plain pointers to strings the guards
// own, read with atomics: the handler may not lock or allocate.
constexpr int kSlots = 16;
std::atomic<const char*> g_pending[kSlots];
std::once_flag g_installed;

extern "C" void remove_pending_and_die(int sig) {
  for (auto& p : g_pending)
    if (const char* path = p.load()) unlink(path);
  signal(sig, SIG_DFL);
  raise(sig);
}

void install_handlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    sigaction(sig, nullptr, &old);
    if (old.sa_handler == SIG_IGN) continue;  // e.g. nohup: keep ignoring it
    struct sigaction sa {};
    sa.sa_handler = remove_pending_and_die;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
  }
}

}  // namespace

TempFileGuard::TempFileGuard(std::string path) : path_(std::move(path)), slot_(-1) {
  std::call_once(g_installed, install_handlers);
  for (int i = 0; i < kSlots && slot_ < 0; ++i) {
    const char* expected = nullptr;
    if (g_pending[i].compare_exchange_strong(expected, path_.c_str())) slot_ = i;
  }
}

TempFileGuard::~TempFileGuard() {
  if (slot_ >= 0) g_pending[slot_].store(nullptr);
}

}  // namespace moecheck
