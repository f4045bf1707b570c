# Tracking and smoothing (src/track) on hand-made sequences.
ps_add_test(test_track SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_track.c LABELS unit)
