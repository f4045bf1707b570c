/* NVDEC through FFmpeg's CUDA hwaccel (see av_hw.h). */
#include "source/av_hw.h"

#include <libavutil/hwcontext.h>
#include <pthread.h>
#include <stdio.h>

/* libavutil/hwcontext_cuda.h's flag, defined here so that header (which needs
 * CUDA's cuda.h) is not needed to build. */
#ifndef AV_CUDA_USE_PRIMARY_CONTEXT
#define AV_CUDA_USE_PRIMARY_CONTEXT (1 << 0)
#endif

static pthread_mutex_t hw_lock = PTHREAD_MUTEX_INITIALIZER;
static AVBufferRef *hw_device; /* lives as long as the process */
static int hw_error;

int ps_av_hw_supported(const AVCodec *codec) {
    for (int i = 0;; i++) {
        const AVCodecHWConfig *c = avcodec_get_hw_config(codec, i);
        if (!c) return 0;
        if (c->device_type == AV_HWDEVICE_TYPE_CUDA &&
            (c->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX))
            return 1;
    }
}

static enum AVPixelFormat pick_cuda(AVCodecContext *dec, const enum AVPixelFormat *fmts) {
    (void)dec;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == AV_PIX_FMT_CUDA) return *p;
    return fmts[0]; /* this stream cannot: software decoding */
}

/* The process's CUDA device context, made on first use; NULL after a
 * failure (remembered, so a machine without a GPU tries once). */
static AVBufferRef *device_ref(void) {
    pthread_mutex_lock(&hw_lock);
    if (!hw_device && !hw_error)
        hw_error = av_hwdevice_ctx_create(&hw_device, AV_HWDEVICE_TYPE_CUDA, NULL, NULL,
                                          AV_CUDA_USE_PRIMARY_CONTEXT);
    AVBufferRef *ref = hw_device ? av_buffer_ref(hw_device) : NULL;
    pthread_mutex_unlock(&hw_lock);
    return ref;
}

/* Why the device context could not be made. */
static void explain(char *why, size_t cap) {
    if (hw_error == AVERROR(ENOTSUP))
        snprintf(why, cap, "NVDEC: the GPU's primary context was started by the CUDA engine "
                           "before FFmpeg (call ps_source_gpu_prepare first)");
    else
        snprintf(why, cap, "no CUDA device for NVDEC (%s)", av_err2str(hw_error));
}

int ps_av_hw_prepare(char *why, size_t cap) {
    AVBufferRef *ref = device_ref();
    if (ref) {
        av_buffer_unref(&ref);
        return 0;
    }
    explain(why, cap);
    return hw_error ? hw_error : AVERROR(ENOMEM);
}

int ps_av_hw_attach(AVCodecContext *dec, char *err_msg, size_t cap) {
    AVBufferRef *ref = device_ref();
    if (!ref) {
        explain(err_msg, cap);
        return hw_error ? hw_error : AVERROR(ENOMEM);
    }
    dec->hw_device_ctx = ref;
    dec->get_format = pick_cuda;
    /* frames handed on are copies (FFmpeg's safe output), so holding them
     * never starves the decoder's own surfaces; two spare for re-use */
    dec->extra_hw_frames = 2;
    return 0;
}

int ps_av_hw_hold(const AVFrame *fr, ps_frame *f) {
    const AVHWFramesContext *fc = (const AVHWFramesContext *)fr->hw_frames_ctx->data;
    if (fc->sw_format != AV_PIX_FMT_NV12) return -1;
    AVFrame *ref = av_frame_clone(fr);
    if (!ref) return -1;
    f->hw = ref;
    f->pic = (ps_picture){.fmt = PS_PIX_NV12,
                          .plane = {ref->data[0], ref->data[1]},
                          .pitch = {ref->linesize[0], ref->linesize[1]},
                          .width = ref->width,
                          .height = ref->height,
                          .on_device = 1};
    f->width = f->sw = ref->width;
    f->height = f->sh = ref->height;
    return 0;
}
