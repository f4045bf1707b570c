# Memory-aware admission (src/pipeline/admit.c): arithmetic only, no GPU.
ps_add_test(test_admit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_admit.c LABELS unit)
