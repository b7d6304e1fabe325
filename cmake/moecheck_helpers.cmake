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
  gtest_discover_tests(${T_NAME}
    PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    EXTRA_ARGS --gtest_output=xml:${CMAKE_BINARY_DIR}/junit/${T_NAME}.xml
    DISCOVERY_TIMEOUT 120)
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
