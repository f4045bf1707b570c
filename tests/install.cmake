# The installed library, its examples and exports (not in sanitizer or fuzz
# builds: a program built by pkg-config alone cannot link their runtimes).
if(NOT POSESTREAM_SANITIZE AND NOT POSESTREAM_FUZZ)
  add_test(NAME test_install
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_install.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
  set_tests_properties(test_install PROPERTIES LABELS "install" SKIP_RETURN_CODE 77)
endif()
