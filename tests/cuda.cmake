# The CUDA network (src/engine/cuda/cuda_net.cu) against the CPU backend on
# hand-made nets, then the real model and an engine-only benchmark when the
# model is cached. Skips (77) on a machine without a CUDA device.
if(PS_HAVE_CUDA)
  ps_add_test(test_cuda_net SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_net.c LABELS gpu)
endif()
