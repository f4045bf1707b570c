# The JSON writer and the people/results JSON built on it (src/util/json_out.c,
# src/sink/json.c).
ps_add_test(test_json_out SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_json_out.c LABELS unit)
