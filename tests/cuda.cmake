# The CUDA network (src/engine/cuda/cuda_net.cu) against the CPU backend on
# hand-made nets, then the real model and an engine-only benchmark when the
# model is cached. Skips (77) on a machine without a CUDA device.
if(PS_HAVE_CUDA)
  ps_add_test(test_cuda_net SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cuda_net.c ${CMAKE_CURRENT_LIST_DIR}/netbuild.c LABELS gpu)
endif()
if(PS_HAVE_CUDA)
  # NVDEC: needs a GPU and the model; a clip with people for the GPU-vs-CPU
  # decode comparison comes from $POSESTREAM_TEST_CLIP.
  ps_add_test(test_nvdec SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_nvdec.c
              ${CMAKE_CURRENT_LIST_DIR}/clipgen.c ${CMAKE_CURRENT_LIST_DIR}/golden_util.c
              LABELS gpu)
endif()
if(PS_HAVE_CUDA)
  # The engine under NVDEC load: 64 streams, batch sizes up to 64 forming
  # mid-run (the old capture-while-decoding failure). Needs a GPU, the model
  # and $POSESTREAM_TEST_CLIP; skips (77) otherwise.
  add_test(NAME test_nvdec_load
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_nvdec_load.sh $<TARGET_FILE:posestream>)
  set_tests_properties(test_nvdec_load PROPERTIES LABELS "gpu" SKIP_RETURN_CODE 77)
endif()
