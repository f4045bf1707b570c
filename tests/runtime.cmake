# The public runtime through the shared library alone (as an embedding
# program links it); needs the model.
add_executable(test_runtime ${CMAKE_CURRENT_LIST_DIR}/test_runtime.c ${CMAKE_CURRENT_LIST_DIR}/testutil.c)
target_link_libraries(test_runtime PRIVATE posestream_shared PkgConfig::CJSON)
target_include_directories(test_runtime PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
add_test(NAME test_runtime COMMAND test_runtime ${CMAKE_BINARY_DIR}/share/posestream/samples)
set_tests_properties(test_runtime PROPERTIES LABELS "unit" SKIP_RETURN_CODE 77)
