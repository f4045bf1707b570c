# Memory-aware admission (src/pipeline/admit.c): arithmetic only, no GPU.
ps_add_test(test_admit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_admit.c LABELS unit)
# Streams files and the quick '#key=value' form (src/pipeline/stream_spec.c).
ps_add_test(test_stream_spec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_stream_spec.c LABELS unit)
# Placing streams on GPUs (src/pipeline/place.c) with fake GPUs (issue 18).
ps_add_test(test_place SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_place.c LABELS unit)
