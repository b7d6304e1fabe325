# Tests of the generators, the property suite (built here because it draws
# its cases from moecheck_fuzz) and the saved corpus. The planted-bug fuzz
# tests live with the buggy plugin (examples/plugin/buggy/CMakeLists.txt).
if(NOT MOECHECK_BUILD_TESTS)
  return()
endif()
moecheck_add_test(NAME fuzz_tests SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_test.cpp
  LIBS moecheck_fuzz LABELS "cpu;fuzz")

moecheck_add_test(NAME properties_cpu_tests SOURCES ${PROJECT_SOURCE_DIR}/properties/property_test.cpp
  LIBS moecheck_fuzz LABELS "cpu;property" TIMEOUT 900)
target_compile_definitions(properties_cpu_tests PRIVATE PROPS_BACKEND="host"
  MOECHECK_TEST_LEVEL=${MOECHECK_TEST_LEVEL})
if(MOECHECK_ENABLE_CUDA)
  moecheck_add_test(NAME properties_gpu_tests SOURCES ${PROJECT_SOURCE_DIR}/properties/property_test.cpp
    LIBS moecheck_fuzz LABELS "gpu;property" TIMEOUT 900)
  target_compile_definitions(properties_gpu_tests PRIVATE PROPS_BACKEND="cuda" PROPS_CUDA=1
    MOECHECK_TEST_LEVEL=${MOECHECK_TEST_LEVEL})
endif()

# Every saved corpus case is a regression test: all properties of every
# correct variant, on the host twins and (exit 77 = skipped without a device)
# on the GPU.
file(GLOB _corpus CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/corpus/*.safetensors)
foreach(f ${_corpus})
  get_filename_component(_n ${f} NAME_WE)
  add_test(NAME fuzz.corpus.host.${_n} COMMAND $<TARGET_FILE:moecheck> replay ${f} --backend host)
  set_tests_properties(fuzz.corpus.host.${_n} PROPERTIES LABELS "cpu;fuzz" TIMEOUT 300
    ENVIRONMENT OMP_WAIT_POLICY=passive)
  if(MOECHECK_ENABLE_CUDA)
    add_test(NAME fuzz.corpus.cuda.${_n} COMMAND $<TARGET_FILE:moecheck> replay ${f} --backend cuda)
    set_tests_properties(fuzz.corpus.cuda.${_n} PROPERTIES LABELS "gpu;fuzz" TIMEOUT 300 SKIP_RETURN_CODE 77
      ENVIRONMENT OMP_WAIT_POLICY=passive)
  endif()
endforeach()
