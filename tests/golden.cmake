# Golden tests against TensorFlow.js references; they need the model
# (tools/fetch-model.sh) and skip when it is missing.
ps_add_test(test_golden SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_golden.c
            ${CMAKE_CURRENT_LIST_DIR}/golden_util.c LABELS golden ARGS ${PS_TEST_DATA}/golden)
ps_add_test(test_detect SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_detect.c
            ${CMAKE_CURRENT_LIST_DIR}/golden_util.c LABELS golden
            ARGS $<TARGET_FILE:posestream> ${PS_TEST_DATA}/golden)
if(PS_HAVE_CUDA)
  # The CUDA backend against TF.js and against the CPU backend; skips
  # without a GPU.
  ps_add_test(test_golden_cuda SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_golden_cuda.c
              ${CMAKE_CURRENT_LIST_DIR}/golden_util.c LABELS "gpu;golden" ARGS ${PS_TEST_DATA}/golden)
endif()
# More than six people: the photographs tiled 2x2, found at max_people 32
# where the single photographs put them (CPU; and CUDA, skipping without a
# GPU).
ps_add_test(test_mosaic SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_mosaic.c
            ${CMAKE_CURRENT_LIST_DIR}/golden_util.c LABELS golden ARGS ${PS_TEST_DATA}/golden cpu)
if(PS_HAVE_CUDA)
  add_test(NAME test_mosaic_cuda COMMAND test_mosaic ${PS_TEST_DATA}/golden cuda)
  set_tests_properties(test_mosaic_cuda PROPERTIES LABELS "gpu;golden" SKIP_RETURN_CODE 77)
endif()
