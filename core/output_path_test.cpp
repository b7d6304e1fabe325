// Output paths are checked before any work, and a signal leaves no
// temporary file behind.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "core/output_path.hpp"
#include "core/safetensors.hpp"

namespace moecheck {
namespace {
namespace fs = std::filesystem;

// A fresh directory per test, removed after it.
class OutputPath : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moecheck-outpath-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string at(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST_F(OutputPath, RegularOrNewFileIsAccepted) {
  std::ofstream(at("old")) << "x";
  EXPECT_NO_THROW(check_output_file(at("old"), "--out"));
  EXPECT_NO_THROW(check_output_file(at("new"), "--out"));
}

TEST_F(OutputPath, FifoDeviceAndDirectoryAreRefused) {
  ASSERT_EQ(mkfifo(at("fifo").c_str(), 0600), 0);
  EXPECT_NE(error_of([&] { check_output_file(at("fifo"), "--out"); }).find("not a regular file"), std::string::npos);
  EXPECT_NE(error_of([] { check_output_file("/dev/null", "--out"); }).find("'/dev/null' exists and is not a regular"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_output_file(dir_.string(), "--out"); }).find("not a regular file"), std::string::npos);
  // The atomic write refuses it too, and the FIFO stays a FIFO.
  EXPECT_THROW(write_file_atomic(at("fifo"), {1, 2, 3}), InputError);
  EXPECT_TRUE(fs::is_fifo(at("fifo")));
}

TEST_F(OutputPath, MissingDirectoryIsRefused) {
  EXPECT_NE(error_of([&] { check_output_file(at("no/such/file"), "--out"); }).find("does not exist"),
            std::string::npos);
  std::ofstream(at("file")) << "x";
  EXPECT_NE(error_of([&] { check_output_dir(at("file"), "--out"); }).find("not a directory"), std::string::npos);
  EXPECT_NE(error_of([&] { check_output_dir(at("file/below/it"), "--out"); }).find("not a directory"),
            std::string::npos);
}

// A report directory is created with its missing parents, as a clean build's
// report.smoke writes build/reports/test-reports/smoke.
TEST_F(OutputPath, NewDirectoryUnderMissingParentsIsAccepted) {
  EXPECT_NO_THROW(check_output_dir(at("new_dir"), "--out"));
  EXPECT_NO_THROW(check_output_dir(at("no/such/dir"), "--out"));
  EXPECT_FALSE(fs::exists(at("no")));  // checking creates nothing
}

TEST_F(OutputPath, InputFileIsRefusedUnderAnyName) {
  std::ofstream(at("case")) << "x";
  fs::create_symlink(at("case"), at("link"));
  EXPECT_NE(error_of([&] { check_output_file(at("case"), "--out", {at("case")}); }).find("is the input file"),
            std::string::npos);
  EXPECT_NE(error_of([&] { check_output_file(at("link"), "--out", {at("case")}); }).find("is the input file"),
            std::string::npos);
  EXPECT_NO_THROW(check_output_file(at("other"), "--out", {at("case")}));
}

// A process killed by SIGTERM while its guard holds the temporary file
// removes it and still dies of the signal.
TEST_F(OutputPath, SigtermRemovesTheTemporaryFile) {
  const std::string tmp = at("out.tmp.1");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const TempFileGuard guard(tmp);
    std::ofstream(tmp) << "partial";
    raise(SIGTERM);
    _exit(0);  // not reached
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << "status " << status;
  EXPECT_FALSE(fs::exists(tmp));
}

}  // namespace
}  // namespace moecheck
