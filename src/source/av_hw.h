/* NVDEC through FFmpeg, for the FFmpeg source: FFmpeg's own NVDEC decoders
 * (h264_cuvid, hevc_cuvid) where it has one, its CUDA hwaccel otherwise; one CUDA
 * device context per GPU for the whole process, on the GPU's primary context, so
 * decoded surfaces are valid device pointers for the engine's kernels with
 * no copy between contexts. Private to src/source/. */
#ifndef PS_SOURCE_AV_HW_H
#define PS_SOURCE_AV_HW_H

#include <libavcodec/avcodec.h>

#include "source/frame.h"

/* Creates the process's CUDA device context for GPU gpu (CUDA's device
 * number) now (see ps_source_gpu_prepare). Returns 0 or an AVERROR; why gets
 * the reason. */
int ps_av_hw_prepare(int gpu, char *why, size_t cap);

/* Whether codec can decode through a CUDA device context. */
int ps_av_hw_supported(const AVCodec *codec);

/* Attaches the process's CUDA device context of GPU gpu to dec (before
 * avcodec_open2) and asks for CUDA frames. Returns 0, or an AVERROR when
 * there is no usable GPU gpu (err_msg gets why). */
int ps_av_hw_attach(AVCodecContext *dec, int gpu, char *err_msg, size_t cap);

/* Decode surfaces NVDEC needs for this stream: the largest DPB its codec,
 * level and size allow (H.264: MaxDpbMbs / frame size, at most 16; HEVC:
 * 6 to 16 by MaxLumaPs), plus the picture being decoded, one waiting to be
 * copied out and one spare. 0 for other codecs. */
int ps_av_hw_surfaces(const AVCodecParameters *par);

/* FFmpeg's own NVDEC decoder for this stream (h264_cuvid, hevc_cuvid), with
 * its options in *opts (ps_av_hw_surfaces surfaces): it asks NVDEC for
 * those and one output surface, where the hwaccel of the plain decoder asks
 * for DPB + 7 of each (about twice the memory: bench/NOTES.md). NULL when
 * this FFmpeg has none for the codec (then the hwaccel decodes). */
const AVCodec *ps_av_hw_decoder(const AVCodecParameters *par, AVDictionary **opts);

/* Fills f->pic from a decoded CUDA frame (NV12 in device memory) and keeps a
 * reference to it in f->hw. Returns 0, or -1 when the frame is not NV12 (the
 * caller then copies it down). */
int ps_av_hw_hold(const AVFrame *fr, ps_frame *f);

#endif
