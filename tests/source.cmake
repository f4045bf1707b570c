# Tests of the sources (src/source/): files, loop, real time, synthetic,
# stills, errors and RTSP over 127.0.0.1. Clips are written at test time by
# clipgen.c (reused by other tests); photographs come from data/golden.
ps_add_test(test_source SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_source.c
            ${CMAKE_CURRENT_LIST_DIR}/clipgen.c LABELS "unit;pipeline" ARGS ${PS_TEST_DATA}/golden)
