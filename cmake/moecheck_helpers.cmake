# Full-size presets at large T, in either order test names spell them
# (warp decode: <preset>_T<n>, expert-centric: _T<n>_<preset>).
set(_big "(deepseek_v3|mixtral_8x7b|gpt_oss_120b|qwen3_235b_a22b)")
set(_t8 "T([89]|[1-9][0-9]+)")
set(_t17 "T(1[7-9]|[2-9][0-9]|[1-9][0-9][0-9]+)")
set(MOECHECK_HEAVY_GPU_TESTS "${_big}_${_t8}([^0-9]|$)|_${_t8}_${_big}|qwen3_30b_a3b_${_t17}([^0-9]|$)|_${_t17}_qwen3_30b_a3b")

# moecheck_add_test(NAME name SOURCES ... LIBS ... LABELS ...)
# One gtest executable, tests discovered into CTest with the given labels.
# GPU tests carry the `gpu` label and skip themselves (GTEST_SKIP) where no
# device is present, so the same binary runs everywhere.
function(moecheck_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT MOECHECK_BUILD_TESTS)
    return()
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main rapidcheck rapidcheck_gtest)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set(_extra "")
  if("gpu" IN_LIST T_LABELS)
    # One GPU per test when ctest runs with a resource spec
    # (cmake/gpu_resource_spec.sh); the launcher pins CUDA_VISIBLE_DEVICES.
    set_target_properties(${T_NAME} PROPERTIES CROSSCOMPILING_EMULATOR ${PROJECT_SOURCE_DIR}/cmake/gpu_launcher.sh)
    set(_extra " RESOURCE_GROUPS \"gpus:1\"")
  endif()
  # JUnit XML for the whole run comes from ctest (--output-junit, or the
  # test presets' outputJUnitFile), one <testcase> per discovered test.
  # NO_PRETTY_VALUES: a parameterized test is named by its name generator
  # alone, without gtest's byte dump of the parameter.
  gtest_discover_tests(${T_NAME} TEST_LIST ${T_NAME}_TESTS NO_PRETTY_VALUES PROPERTIES TIMEOUT ${T_TIMEOUT}
    DISCOVERY_TIMEOUT 120)
  # gtest_discover_tests flattens a list-valued LABELS into separate words, so
  # labels (and resource groups) are set by a script ctest runs after discovery.
  # A GPU test whose name spells a full-size preset at T >= 8 (T >= 17 on
  # qwen3-30b-a3b) is also `exhaustive`: its host-side twin and oracle take
  # up to minutes, so the per-change GPU job (.ci/gpu) leaves it to the
  # nightly run (MOECHECK_GPU_EXHAUSTIVE=1).
  set(_heavy "")
  if("gpu" IN_LIST T_LABELS)
    set(_heavy "if(_t MATCHES \"${MOECHECK_HEAVY_GPU_TESTS}\")\n    set_tests_properties(\"\${_t}\" PROPERTIES LABELS \"${T_LABELS};exhaustive\")\n  endif()\n  ")
  endif()
  set(_post ${CMAKE_CURRENT_BINARY_DIR}/${T_NAME}_labels.cmake)
  # A GTEST_SKIP counts as skipped in CTest's summary, not as passed.
  set(_skip " SKIP_REGULAR_EXPRESSION \"\\\\[  SKIPPED \\\\]\"")
  file(WRITE ${_post} "foreach(_t IN LISTS ${T_NAME}_TESTS)\n  set_tests_properties(\"\${_t}\" PROPERTIES LABELS \"${T_LABELS}\"${_extra}${_skip})\n  ${_heavy}endforeach()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${_post})
endfunction()

# Link a non-system dependency statically where a static archive exists.
function(moecheck_static_mpfr target)
  find_library(MPFR_STATIC libmpfr.a)
  find_library(GMP_STATIC libgmp.a)
  if(MPFR_STATIC AND GMP_STATIC)
    target_link_libraries(${target} PUBLIC ${MPFR_STATIC} ${GMP_STATIC})
  else()
    target_link_libraries(${target} PUBLIC PkgConfig::MPFR PkgConfig::GMP)
  endif()
endfunction()

# The commit at configure time (12 hex digits, "-dirty" with uncommitted
# changes to tracked files, "unknown" outside a git checkout), for
# `moecheck --version` and every report's provenance.
function(moecheck_git_commit out_var)
  find_package(Git QUIET)
  set(_commit unknown)
  if(GIT_FOUND)
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short=12 HEAD WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      OUTPUT_VARIABLE _commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      set(_commit unknown)
    else()
      execute_process(COMMAND ${GIT_EXECUTABLE} status --porcelain --untracked-files=no
        WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE _dirty ERROR_QUIET)
      if(_dirty)
        string(APPEND _commit "-dirty")
      endif()
    endif()
  endif()
  set(${out_var} ${_commit} PARENT_SCOPE)
endfunction()
