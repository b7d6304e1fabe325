#!/usr/bin/env bash
# check_exports.sh PLUGIN.so: its dynamic symbol table defines exactly the two
# MOECHECK_PLUGIN symbols (exports.map), nothing of the moecheck_core or
# cudart copies linked into it.
set -euo pipefail
got="$(nm -D --defined-only "$1" | awk '{print $3}' | sort | tr '\n' ' ')"
want="moecheck_plugin_abi moecheck_register_variants "
[[ "$got" == "$want" ]] || { echo "$1 exports: ${got:-nothing} (want exactly: $want)" >&2; exit 1; }
echo "$1 exports exactly: $got"
