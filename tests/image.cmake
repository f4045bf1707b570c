# Tests of still-image decoding (src/source/image.c) and the CPU letterbox
# (src/engine/preprocess.c); both need no model and no network.
ps_add_test(test_image SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_image.c LABELS unit)
ps_add_test(test_preprocess SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_preprocess.c LABELS unit)
