# The CMake package: `cmake --install build --prefix P` gives P/bin/vpr, the public headers
# include/vpr/*.h, the libraries behind them and P/lib/cmake/vpr, where find_package(vpr)
# finds the target vpr::vpr.
include(CMakePackageConfigHelpers)

# The executable already holds the name vpr, so the public target has another one here.
add_library(vpr_public INTERFACE)
target_link_libraries(vpr_public INTERFACE vpr_api)
target_include_directories(vpr_public INTERFACE $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                                $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
set_target_properties(vpr_public PROPERTIES EXPORT_NAME vpr)
add_library(vpr::vpr ALIAS vpr_public)

# vpr_api and every module it links: static archives are needed at link time, shared ones at
# run time. install(EXPORT) fails at configure time if one is missing here. The train and cli
# modules (and CLI11 with them) stay out: only the vpr binary uses them.
set(vpr_exported vpr_util vpr_runtime vpr_io vpr_image vpr_index vpr_model vpr_data vpr_synthetic vpr_verify vpr_eval vpr_app vpr_api)
install(TARGETS vpr_public ${vpr_exported} EXPORT vprTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS vpr RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(BUILD_SHARED_LIBS)
  # Outside the export set, but the shared vpr binary loads them.
  install(TARGETS vpr_train vpr_cli LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/vpr DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")

set(vpr_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/vpr)
install(EXPORT vprTargets NAMESPACE vpr:: DESTINATION ${vpr_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vprConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/package/vprConfig.cmake INSTALL_DESTINATION ${vpr_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/package/vprConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/package/vprConfig.cmake ${PROJECT_BINARY_DIR}/package/vprConfigVersion.cmake
        DESTINATION ${vpr_cmake_dir})
