// Where moecheck may write, checked before any work starts, and temporary
// files that a signal does not leave behind.
#pragma once

#include <string>
#include <vector>

namespace moecheck {

// Throws InputError (naming `flag`) unless `path` names a regular file or a
// new file in an existing directory: the atomic write renames over it, which
// would turn a FIFO or a device node (/dev/null, as root) into a plain file.
// `inputs` are files the command reads: writing one of them would destroy
// the input before (or while) it is used.
void check_output_file(const std::string& path, const std::string& flag, const std::vector<std::string>& inputs = {});
// An existing writable directory, or a new one whose nearest existing
// ancestor is a writable directory (the writer creates the rest).
void check_output_dir(const std::string& path, const std::string& flag);

// A temporary file removed if the process dies of SIGINT, SIGTERM or SIGHUP
// while the guard lives (up to 16 guards at a time are covered); otherwise
// the caller removes or renames it before the guard goes.
class TempFileGuard {
 public:
  explicit TempFileGuard(std::string path);
  ~TempFileGuard();
  TempFileGuard(const TempFileGuard&) = delete;
  TempFileGuard& operator=(const TempFileGuard&) = delete;

 private:
  std::string path_;
  int slot_;
};

}  // namespace moecheck
