# The latency histogram (src/util/hist.c).
ps_add_test(test_hist SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_hist.c LABELS unit)
