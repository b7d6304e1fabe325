#!/usr/bin/env bash
# Install moecheck into a scratch prefix, build examples/plugin out of tree
# against it with find_package(moecheck), and load the plugin with the
# installed binary: what a user starting a plugin of their own does.
#   test_install.sh BUILD_DIR SOURCE_DIR CUDA_ARCHS
set -euo pipefail
build="$1" src="$2" archs="$3"
prefix="$build/install-test/prefix"
oot="$build/install-test/plugin"
rm -rf "$build/install-test"
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$src/examples/plugin" -B "$oot" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CUDA_ARCHITECTURES="$archs"
cmake --build "$oot" -j 2
plugin="$(find "$oot" -maxdepth 1 -name 'libmoecheck_example_plugin.so' | head -1)"
[[ -n "$plugin" ]] || { echo "out-of-tree build produced no plugin" >&2; exit 1; }
[[ -f "$prefix/include/moecheck/kernels/plugin_api.hpp" ]] || { echo "headers not under include/moecheck/" >&2; exit 1; }
"$src/examples/plugin/check_exports.sh" "$plugin"
# The weight decoders compile from the install alone, as host code and, with
# nvcc, as device code.
printf '#include <moecheck/kernels/weight_decode.hpp>\nint main() { return moecheck::weight_decode::roundings(moecheck::WeightFormat::nvfp4) == 2 ? 0 : 1; }\n' \
  >"$build/install-test/decode.cpp"
c++ -std=c++20 -I"$prefix/include" -I"$prefix/include/moecheck" "$build/install-test/decode.cpp" -o "$build/install-test/decode"
"$build/install-test/decode"
if command -v nvcc >/dev/null || [[ -x /usr/local/cuda/bin/nvcc ]]; then
  nvcc="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
  cp "$build/install-test/decode.cpp" "$build/install-test/decode.cu"
  "$nvcc" -std=c++20 -I"$prefix/include" -I"$prefix/include/moecheck" -c "$build/install-test/decode.cu" \
    -o "$build/install-test/decode_cu.o"
fi
out="$("$prefix/bin/moecheck" list --plugin "$plugin")"
printf '%s\n' "$out" | grep -F "[$plugin]" || { echo "installed moecheck did not list the plugin's variant" >&2; exit 1; }
echo "install + out-of-tree plugin: ok"
