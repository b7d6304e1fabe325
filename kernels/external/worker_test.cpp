// Worker processes: a well-behaved one serves cases, and every fault (crash,
// hang, garbage, wrong-shaped file, wrong id, error reply, bad handshake) is
// a clear error naming the worker, with the case file kept; none hangs.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "core/error.hpp"
#include "core/generate.hpp"
#include "kernels/external/external.hpp"
#include "kernels/external/worker.hpp"
#include "kernels/registry.hpp"

namespace moecheck::external {
namespace {

std::string worker_cmd(const std::string& mode, const std::string& name) {
  return "python3 " MOECHECK_SOURCE_DIR "/kernels/external/testdata/fault_worker.py " + mode + " " + name;
}

Case small_case() {
  GenSpec s;
  s.shape = {2, 16, 8, 4, 2};
  s.seed = 3;
  return generate_case(s);
}

// The message of the error run_host throws, after a full fault round.
template <class E>
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error of the expected type)";
}

std::string run_fault(const std::string& mode, double timeout_s = 20) {
  const std::string name = "fault_" + mode;
  const Variant& v = find_variant(load_worker(worker_cmd(mode, name), timeout_s));
  std::vector<uint8_t> y;
  return error_of<WorkerError>([&] { v.run_host(small_case(), y); });
}

// The case file named after "case file kept: " exists, then is removed.
void expect_case_kept(const std::string& msg) {
  const std::string key = "case file kept: ";
  const size_t at = msg.find(key);
  ASSERT_NE(at, std::string::npos) << msg;
  const std::string path = msg.substr(at + key.size());
  EXPECT_TRUE(std::filesystem::exists(path)) << path;
  std::filesystem::remove(path);
}

TEST(Worker, ZerosWorkerServesRepeatedRequests_T2_H16_bf16) {
  const Variant& v = find_variant(load_worker(worker_cmd("zeros", "zeros_ok"), 20));
  EXPECT_EQ(v.family(), "external");
  const Case c = small_case();
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> y(7, 0xFF);
    v.run_host(c, y);
    ASSERT_EQ(y.size(), static_cast<size_t>(2 * 16 * 2));
    for (uint8_t b : y) ASSERT_EQ(b, 0);
  }
  GenSpec s;
  s.shape = {1, 16, 8, 4, 2};
  s.weights = WeightFormat::mxfp8;
  const Support sup = v.supports(generate_case(s));
  EXPECT_FALSE(sup.ok);
  EXPECT_NE(sup.reason.find("weights mxfp8 not supported (test worker)"), std::string::npos) << sup.reason;
  EXPECT_NE(exec_flags().find("--exec 'python3 "), std::string::npos) << exec_flags();
}

TEST(Worker, CrashIsAnErrorWithItsExitStatusAndTheCaseKept) {
  const std::string msg = run_fault("crash");
  EXPECT_NE(msg.find("worker 'python3 "), std::string::npos) << msg;
  EXPECT_NE(msg.find("exited with status 3"), std::string::npos) << msg;
  expect_case_kept(msg);
}

TEST(Worker, HangIsKilledAtTheTimeout_1s) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string msg = run_fault("hang", 1);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(msg.find("did not answer within 1"), std::string::npos) << msg;
  EXPECT_LT(s, 30) << "the timeout did not end the wait";
  expect_case_kept(msg);
}

TEST(Worker, GarbageOnStdoutIsAnErrorQuotingTheLine) {
  const std::string msg = run_fault("garbage");
  EXPECT_NE(msg.find("not a JSON object"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Traceback"), std::string::npos) << msg;
  expect_case_kept(msg);
}

TEST(Worker, WrongShapedOutputFileIsAnErrorNamingTheShapes) {
  const std::string msg = run_fault("wrong_shape");
  EXPECT_NE(msg.find("wrote a bad output"), std::string::npos) << msg;
  EXPECT_NE(msg.find("y has shape (2, 17), the case needs (2, 16)"), std::string::npos) << msg;
  expect_case_kept(msg);
}

TEST(Worker, WrongIdAndErrorRepliesAreErrors) {
  std::string msg = run_fault("wrong_id");
  EXPECT_NE(msg.find("answered request 1 with id 2"), std::string::npos) << msg;
  expect_case_kept(msg);
  msg = run_fault("error");
  EXPECT_NE(msg.find("failed: kernel raised ValueError"), std::string::npos) << msg;
  expect_case_kept(msg);
}

TEST(Worker, BadHandshakesAreInputErrors) {
  std::string msg = error_of<InputError>([] { load_worker(worker_cmd("no_handshake", "nh"), 20); });
  EXPECT_NE(msg.find("not a JSON object"), std::string::npos) << msg;
  msg = error_of<InputError>([] { load_worker(worker_cmd("bad_numerics", "bn"), 20); });
  EXPECT_NE(msg.find("fold_partials never forms"), std::string::npos) << msg;
  msg = error_of<InputError>([] { load_worker("exit 0", 20); });
  EXPECT_NE(msg.find("worker 'exit 0' closed its stdout"), std::string::npos) << msg;
}

// Not a pass/fail test (timings never are): the protocol's cost per request
// with a worker that computes nothing. Run with --gtest_also_run_disabled_tests.
TEST(Worker, DISABLED_MeasureProtocolOverheadPerRequest_T1_H64_I32_E4_k2) {
  const Variant& v = find_variant(load_worker(worker_cmd("zeros", "zeros_timing"), 20));
  GenSpec s;
  s.shape = {1, 64, 32, 4, 2};
  const Case c = generate_case(s);
  std::vector<uint8_t> y;
  v.run_host(c, y);  // start-up out of the timing
  const int n = 500;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) v.run_host(c, y);
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
  std::printf("protocol round trip with the zeros worker: %.0f us per request (%d requests)\n", us, n);
}

}  // namespace
}  // namespace moecheck::external
