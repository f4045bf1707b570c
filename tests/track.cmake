# Tracking and smoothing (src/track) on hand-made sequences.
ps_add_test(test_track SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_track.c LABELS unit)
# Ids on vtest.avi: the same across runs and between offline and real time.
add_test(NAME test_track_video
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_track_video.sh $<TARGET_FILE:posestream>)
set_tests_properties(test_track_video PROPERTIES LABELS "cli" SKIP_RETURN_CODE 77)
