/* NVDEC through FFmpeg: its own NVDEC decoders for H.264 and HEVC, its
 * CUDA hwaccel for the other codecs (see av_hw.h). */
#include "source/av_hw.h"

#include <libavutil/dict.h>
#include <libavutil/hwcontext.h>
#include <pthread.h>
#include <stdio.h>

#include "source/av_log.h"

/* libavutil/hwcontext_cuda.h's flag, defined here so that header (which needs
 * CUDA's cuda.h) is not needed to build. */
#ifndef AV_CUDA_USE_PRIMARY_CONTEXT
#define AV_CUDA_USE_PRIMARY_CONTEXT (1 << 0)
#endif

static pthread_mutex_t hw_lock = PTHREAD_MUTEX_INITIALIZER;
static AVBufferRef *hw_device[PS_MAX_GPUS]; /* by CUDA device; live as long as the process */
static int hw_error[PS_MAX_GPUS];

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

/* The process's CUDA device context for GPU gpu, made on first use; NULL
 * after a failure (remembered, so a machine without a GPU tries once). */
static AVBufferRef *device_ref(int gpu) {
    ps_av_init();
    pthread_mutex_lock(&hw_lock);
    if (!hw_device[gpu] && !hw_error[gpu]) {
        char name[16];
        snprintf(name, sizeof name, "%d", gpu);
        ps_av_log_quiet(1); /* no GPU is a case, not an error: explain() says it */
        hw_error[gpu] = av_hwdevice_ctx_create(&hw_device[gpu], AV_HWDEVICE_TYPE_CUDA, name,
                                               NULL, AV_CUDA_USE_PRIMARY_CONTEXT);
        ps_av_log_quiet(0);
    }
    AVBufferRef *ref = hw_device[gpu] ? av_buffer_ref(hw_device[gpu]) : NULL;
    pthread_mutex_unlock(&hw_lock);
    return ref;
}

/* Why GPU gpu's device context could not be made. */
static void explain(int gpu, char *why, size_t cap) {
    if (hw_error[gpu] == AVERROR(ENOTSUP))
        snprintf(why, cap, "NVDEC: GPU %d's primary context was started by the CUDA engine "
                           "before FFmpeg (call ps_source_gpu_prepare first)", gpu);
    else
        snprintf(why, cap, "no CUDA device %d for NVDEC (%s)", gpu, av_err2str(hw_error[gpu]));
}

static int gpu_in_range(int gpu, char *why, size_t cap) {
    if (gpu >= 0 && gpu < PS_MAX_GPUS) return 1;
    snprintf(why, cap, "NVDEC: GPU %d: expected 0 to %d", gpu, PS_MAX_GPUS - 1);
    return 0;
}

int ps_av_hw_prepare(int gpu, char *why, size_t cap) {
    if (!gpu_in_range(gpu, why, cap)) return AVERROR(EINVAL);
    AVBufferRef *ref = device_ref(gpu);
    if (ref) {
        av_buffer_unref(&ref);
        return 0;
    }
    explain(gpu, why, cap);
    return hw_error[gpu] ? hw_error[gpu] : AVERROR(ENOMEM);
}

int ps_av_hw_attach(AVCodecContext *dec, int gpu, char *err_msg, size_t cap) {
    if (!gpu_in_range(gpu, err_msg, cap)) return AVERROR(EINVAL);
    AVBufferRef *ref = device_ref(gpu);
    if (!ref) {
        explain(gpu, err_msg, cap);
        return hw_error[gpu] ? hw_error[gpu] : AVERROR(ENOMEM);
    }
    dec->hw_device_ctx = ref;
    dec->get_format = pick_cuda;
    /* frames handed on are copies (FFmpeg's safe output) and let go as soon
     * as the engine has letterboxed them, so no extra surfaces: FFmpeg
     * gives each one to both the decoder's and its output surfaces (3.1 MB
     * each at 1080p, per stream) */
    dec->extra_hw_frames = 0;
    return 0;
}

/* H.264's MaxDpbMbs by level_idc (table A-1). */
static int h264_max_dpb_mbs(int level) {
    static const int levels[] = {10, 11, 12, 13, 20, 21, 22, 30, 31, 32, 40, 41, 42, 50, 51, 52};
    static const int mbs[] = {396,   900,   2376,  2376,  2376,   4752,   8100,   8100,
                              18000, 20480, 32768, 32768, 34816, 110400, 184320, 184320};
    for (int i = 0; i < (int)(sizeof levels / sizeof *levels); i++)
        if (level <= levels[i]) return mbs[i];
    return 696320; /* level 6 and up, or unknown */
}

/* HEVC's maxDpbSize (A.4.2) from MaxLumaPs of general_level_idc (30 x level). */
static int hevc_max_dpb(int level, long long luma) {
    long long max_ps = level <= 30 ? 36864 : level <= 60 ? 122880 : level <= 63 ? 245760
                     : level <= 90 ? 552960 : level <= 93 ? 983040 : level <= 123 ? 2228224
                     : level <= 156 ? 8912896 : 35651584;
    if (level <= 0) return 16;
    if (luma <= max_ps >> 2) return 16;
    if (luma <= max_ps >> 1) return 12;
    if (luma <= 3 * max_ps >> 2) return 8;
    return 6;
}

int ps_av_hw_surfaces(const AVCodecParameters *par) {
    int dpb;
    if (par->codec_id == AV_CODEC_ID_H264) {
        int mbs = ((par->width + 15) / 16) * ((par->height + 15) / 16);
        dpb = mbs > 0 ? h264_max_dpb_mbs(par->level > 0 ? par->level : 99) / mbs : 16;
    } else if (par->codec_id == AV_CODEC_ID_HEVC) {
        dpb = hevc_max_dpb(par->level, (long long)par->width * par->height);
    } else {
        return 0;
    }
    dpb = dpb < 1 ? 1 : dpb > 16 ? 16 : dpb;
    return dpb + 3;
}

const AVCodec *ps_av_hw_decoder(const AVCodecParameters *par, AVDictionary **opts) {
    const char *name = par->codec_id == AV_CODEC_ID_H264   ? "h264_cuvid"
                       : par->codec_id == AV_CODEC_ID_HEVC ? "hevc_cuvid"
                                                           : NULL;
    const AVCodec *codec = name ? avcodec_find_decoder_by_name(name) : NULL;
    if (!codec) return NULL;
    av_dict_set_int(opts, "surfaces", ps_av_hw_surfaces(par), 0);
    return codec;
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
