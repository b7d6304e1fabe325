// External variants: a kernel outside moecheck (PyTorch, Triton, any
// program) served by a worker process (worker.hpp) and registered like a
// plugin's variant, so every property, shrinking, the corpus and replay
// apply. From moecheck's view it is a host-backend variant without a device
// entry point: run_host writes the case file, asks the worker, reads y.
#pragma once

#include <string>

namespace moecheck::external {

// Starts the worker, reads its handshake (name, numerics, supported formats
// and shapes, claims) and registers its variant; returns the variant name.
// InputError (exit 2) naming the command when the handshake is bad or its
// declaration contradicts itself. timeout_s bounds every reply.
std::string load_worker(const std::string& command, double timeout_s);

// " --exec 'CMD' --exec-timeout S" for every loaded worker, shell-quoted, so
// a replay line restarts the same workers.
std::string exec_flags();

}  // namespace moecheck::external
