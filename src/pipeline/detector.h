/* What the pipeline needs from an engine: detect people in a batch of frames.
 * The real one wraps ps_engine (engine_detector.c); tests plug in fakes. */
#ifndef PS_PIPELINE_DETECTOR_H
#define PS_PIPELINE_DETECTOR_H

#include <stddef.h>

#include "source/frame.h"

typedef struct ps_detector {
    void *ctx;
    int max_batch;
    int input_w, input_h; /* frames are scaled to fit this box */
    /* Fills frames[i]->people / n_people (pixels of the original frame) and
     * t.infer_start / t.infer_end for n frames. Returns non-OK with err set
     * when the engine fails. */
    ps_status (*detect)(void *ctx, ps_frame **frames, int n, ps_err *err);
    /* Bytes of memory the engine holds (0 when unknown). */
    size_t (*memory)(void *ctx);
    /* Device memory now and at peak (0 on the CPU). NULL when unknown. */
    void (*vram)(void *ctx, size_t *current, size_t *peak);
    int wants_raw; /* letterboxes on its device: give it full-size pictures */
    /* Optional (both or neither): detect split in two, so the pipeline can
     * prepare the next batch while one runs. submit starts frames[0..n)
     * (at most two batches in flight); collect waits for the oldest
     * submitted batch, which the caller passes again, and fills it as
     * detect would. */
    ps_status (*submit)(void *ctx, ps_frame **frames, int n, ps_err *err);
    ps_status (*collect)(void *ctx, ps_frame **frames, int n, ps_err *err);
    /* Optional: called on the reader's thread for every frame as it arrives;
     * replaces the frame's picture with the engine's own input (letting go
     * of the decoder's surface at once). With wants_raw the frame's pixels
     * are not read after it returns (they may be the source's own, borrowed
     * until its next read: source.h). Non-OK: the frame cannot be run (it is
     * counted as failed). */
    ps_status (*prepare)(void *ctx, ps_frame *f, ps_err *err);
    /* Optional: after a failed batch of n frames (every batch in flight is
     * lost), makes the engine ready for new batches. Non-OK: it cannot go
     * on (err says why). */
    ps_status (*recover)(void *ctx, int n, ps_err *err);
    /* Optional: free device memory now (bytes; 0 when unknown). */
    size_t (*vram_free)(void *ctx);
    /* Optional: percent busy of its GPU and of the GPU's video decoders now
     * (-1: unknown), for placing streams on the least loaded GPU. */
    void (*utilization)(void *ctx, int *gpu, int *decoder);
    /* Optional: the device's total memory (bytes; 0 unknown). */
    size_t (*vram_total)(void *ctx);
} ps_detector;

/* A detector over a ps_engine (which must outlive it). Frames arrive already
 * scaled to fit the engine's input; they are padded into it, run, and the
 * people scored min_score or more mapped back to each frame's pixels. */
ps_status ps_engine_detector(ps_engine *engine, float min_score, ps_detector *det, ps_err *err);
void ps_engine_detector_free(ps_detector *det);

#endif
