# The command-line tool on bad input and end to end on the photographs.
add_test(NAME test_cli_errors
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_cli_errors.sh $<TARGET_FILE:posestream>
                 ${PS_TEST_DATA}/golden)
set_tests_properties(test_cli_errors PROPERTIES LABELS "cli" SKIP_RETURN_CODE 77)
# `run` against faults: outputs that fail, signals under load, a source that
# never answers, bad option values (issue 12).
add_test(NAME test_faults
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_faults.sh $<TARGET_FILE:posestream>)
set_tests_properties(test_faults PROPERTIES LABELS "cli" SKIP_RETURN_CODE 77)
# `posestream serve` driven with curl on a loopback port (issue 14).
add_test(NAME test_serve
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_serve.sh $<TARGET_FILE:posestream>)
set_tests_properties(test_serve PROPERTIES LABELS "cli;serve" SKIP_RETURN_CODE 77)
# A real Prometheus scraping `posestream serve` (issue 14).
add_test(NAME test_prometheus
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_prometheus.sh $<TARGET_FILE:posestream>)
set_tests_properties(test_prometheus PROPERTIES LABELS "cli;serve" SKIP_RETURN_CODE 77)
# Annotated video and snapshots of vtest.avi decoded back with FFmpeg
# (issue 16).
add_test(NAME test_annotate
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_annotate.sh $<TARGET_FILE:posestream>
                 ${CMAKE_SOURCE_DIR}/src/sink/draw.c)
set_tests_properties(test_annotate PROPERTIES LABELS "cli" SKIP_RETURN_CODE 77)
# The live page of `posestream serve` in headless Chromium (issue 16).
add_test(NAME test_page COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_page.sh $<TARGET_FILE:posestream>)
set_tests_properties(test_page PROPERTIES LABELS "cli;serve" SKIP_RETURN_CODE 77)
# bench --html's report parsed back (issue 16).
add_test(NAME test_bench_html
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_bench_html.sh $<TARGET_FILE:posestream>)
set_tests_properties(test_bench_html PROPERTIES LABELS "cli" SKIP_RETURN_CODE 77)
# Results to Debian's mosquitto on a loopback port (issue 17).
add_test(NAME test_mqtt COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_mqtt.sh $<TARGET_FILE:posestream>)
set_tests_properties(test_mqtt PROPERTIES LABELS "cli" SKIP_RETURN_CODE 77)
