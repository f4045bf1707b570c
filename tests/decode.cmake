# The MoveNet decoder (src/model/decode.c): hand-made heads, no model needed.
ps_add_test(test_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_decode.c LABELS unit)
