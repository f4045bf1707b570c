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
