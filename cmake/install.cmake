# Install rules and the package config an out-of-tree variant uses:
#   find_package(moecheck REQUIRED)
#   add_library(my_variant MODULE my_variant.cu)
#   target_link_libraries(my_variant PRIVATE moecheck::headers)
# A plugin needs only the variant API headers; the moecheck binary that loads
# it provides everything else.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

add_library(moecheck_headers INTERFACE)
add_library(moecheck::headers ALIAS moecheck_headers)
# Installed under include/moecheck/ (core/, kernels/ are generic names in a
# shared prefix): plugins write <moecheck/kernels/plugin_api.hpp>, and the
# headers' own "core/..." includes resolve through include/moecheck.
target_include_directories(moecheck_headers INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/moecheck>)
target_compile_features(moecheck_headers INTERFACE cxx_std_20)
set_target_properties(moecheck_headers PROPERTIES EXPORT_NAME headers)
set_target_properties(moecheck_core PROPERTIES EXPORT_NAME core)

foreach(dir core kernels)
  file(GLOB _hdrs ${PROJECT_SOURCE_DIR}/${dir}/*.hpp)
  install(FILES ${_hdrs} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/moecheck/${dir})
endforeach()
# The loaders kernels/weight_decode.hpp gives plugins for device code.
install(FILES ${PROJECT_SOURCE_DIR}/kernels/warp_decode/warp_math.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/moecheck/kernels/warp_decode)

install(TARGETS moecheck RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS moecheck_headers moecheck_core EXPORT moecheckTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT moecheckTargets NAMESPACE moecheck:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/moecheck)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/moecheckConfig.cmake.in
  ${PROJECT_BINARY_DIR}/moecheckConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/moecheck)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/moecheckConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/moecheckConfig.cmake ${PROJECT_BINARY_DIR}/moecheckConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/moecheck)
