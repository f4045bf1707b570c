# The multi-stream pipeline with a fake engine: no model needed. Label
# `pipeline`: tools/test.sh runs these under ThreadSanitizer too.
ps_add_test(test_pipeline SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipeline.c
            ${CMAKE_CURRENT_LIST_DIR}/clipgen.c LABELS "unit;pipeline")
# The annotator's reader, engine, worker and watcher threads (issue 16).
ps_add_test(test_annotator SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_annotator.c LABELS "unit;pipeline")
# Several GPUs with fake ones: placement, pins, a failed GPU, failover (issue 18).
ps_add_test(test_fleet SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fleet.c
            ${CMAKE_CURRENT_LIST_DIR}/clipgen.c LABELS "unit;pipeline")
