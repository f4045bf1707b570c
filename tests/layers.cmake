# The CPU backend layer by layer (src/engine/cpu/): small hand-made nets with
# random weights against a naive reference, no model needed.
ps_add_test(test_layers SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_layers.c ${CMAKE_CURRENT_LIST_DIR}/netbuild.c LABELS unit)
