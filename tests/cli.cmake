# The command-line tool on bad input and end to end on the photographs.
add_test(NAME test_cli_errors
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_cli_errors.sh $<TARGET_FILE:posestream>
                 ${PS_TEST_DATA}/golden)
set_tests_properties(test_cli_errors PROPERTIES LABELS "cli" SKIP_RETURN_CODE 77)
