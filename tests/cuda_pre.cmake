# GPU preprocessing and decoder (src/engine/cuda/cuda_pre.cu, cuda_decode.cu)
# against their CPU references; skipped (77) on a machine without a GPU.
if(PS_HAVE_CUDA)
  ps_add_test(test_cuda_pre SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_pre.c LABELS gpu)
endif()
