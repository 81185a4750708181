# The public API and what `cmake --install` puts in a prefix:
#   include/gantry/gantry.hpp, gantry.h   the only headers an application includes
#   lib/libgantry.so                        the C and C++ API, every layer and backend inside
#   lib/cmake/gantry/                       find_package(gantry) → target gantry::gantry
#   lib/pkgconfig/gantry.pc                 pkg-config --cflags --libs gantry
#   bin/gantry                              the command line
# libgantry.so exports the API alone (cmake/gantry.map); the layers stay internal.
include(CMakePackageConfigHelpers)

add_library(gantry_api SHARED api/generator_api.cpp api/c_api.cpp)
target_include_directories(gantry_api PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                             $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(gantry_api PRIVATE gantry_train gantry_backends)
target_link_options(gantry_api PRIVATE -Wl,--version-script=${PROJECT_SOURCE_DIR}/cmake/gantry.map)
set_target_properties(gantry_api PROPERTIES OUTPUT_NAME gantry EXPORT_NAME gantry VERSION ${PROJECT_VERSION}
                                            SOVERSION ${PROJECT_VERSION_MAJOR} LINK_DEPENDS ${PROJECT_SOURCE_DIR}/cmake/gantry.map)
target_compile_features(gantry_api INTERFACE cxx_std_17)  # what the public headers need
add_library(gantry::gantry ALIAS gantry_api)

install(TARGETS gantry_api EXPORT gantryTargets LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS gantry RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES include/gantry/gantry.hpp include/gantry/gantry.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/gantry)
set(cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/gantry)
install(EXPORT gantryTargets NAMESPACE gantry:: DESTINATION ${cmake_dir})
configure_package_config_file(cmake/gantryConfig.cmake.in ${PROJECT_BINARY_DIR}/gantryConfig.cmake
                              INSTALL_DESTINATION ${cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/gantryConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/gantryConfig.cmake ${PROJECT_BINARY_DIR}/gantryConfigVersion.cmake
        DESTINATION ${cmake_dir})
configure_file(cmake/gantry.pc.in ${PROJECT_BINARY_DIR}/gantry.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/gantry.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
