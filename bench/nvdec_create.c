/* What an NVDEC decoder costs to create, by how many surfaces it is given:
 * T threads create N 1080p decoders in all (H.264 or HEVC) on the primary
 * context, each call timed; then the device memory the N decoders hold.
 * FFmpeg's hwaccel asks NVDEC for (DPB + 7) decode and as many output
 * surfaces; a decoder of its own could ask for the minimum and one output
 * surface. This measures what that choice is worth, in creation time (the
 * driver creates decoders one at a time) and memory.
 *
 *   nvdec_create [--codec h264|hevc] [--decoders N] [--threads T]
 *                [--surfaces S] [--outputs O] [--flags F]
 *
 * --flags: cudaVideoCreateFlags (0 default, 1 CUDA, 2 DXVA, 4 CUVID: what
 * FFmpeg uses).
 */
#include <cuda_runtime_api.h>
#include <ffnvcodec/dynlink_loader.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

static CudaFunctions *cu;
static CuvidFunctions *cv;
static CUcontext ctx;

typedef struct {
    CUVIDDECODECREATEINFO info;
    CUvideodecoder *dec;
    int n;
    double *ms;
    int failed;
} job;

static void *create_main(void *arg) {
    job *j = arg;
    cu->cuCtxPushCurrent(ctx);
    for (int i = 0; i < j->n; i++) {
        int64_t t0 = ps_now_ns();
        CUVIDDECODECREATEINFO info = j->info;
        if (cv->cuvidCreateDecoder(&j->dec[i], &info) != CUDA_SUCCESS) j->failed++, j->dec[i] = NULL;
        j->ms[i] = (double)(ps_now_ns() - t0) / 1e6;
    }
    CUcontext dummy;
    cu->cuCtxPopCurrent(&dummy);
    return NULL;
}

static size_t used_bytes(void) {
    size_t free_b = 0, total = 0;
    cudaMemGetInfo(&free_b, &total);
    return total - free_b;
}

int main(int argc, char **argv) {
    int n = 64, threads = 16, surfaces = 12, outputs = 12, hevc = 0;
    int flags = cudaVideoCreate_PreferCUVID;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--decoders")) n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--surfaces")) surfaces = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--outputs")) outputs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--codec")) hevc = !strcmp(argv[i + 1], "hevc");
        else if (!strcmp(argv[i], "--flags")) flags = atoi(argv[i + 1]);
    }
    if (n < 1 || threads < 1 || threads > n) threads = n < 1 ? 1 : n;
    if (cudaFree(NULL) != cudaSuccess || cuda_load_functions(&cu, NULL) < 0 ||
        cuvid_load_functions(&cv, NULL) < 0) {
        printf("nvdec_create: no CUDA device or no NVDEC library\n");
        return 0;
    }
    CUdevice dev;
    cu->cuDeviceGet(&dev, 0);
    cu->cuDevicePrimaryCtxRetain(&ctx, dev);
    size_t before = used_bytes();
    CUVIDDECODECREATEINFO info = {.ulWidth = 1920, .ulHeight = 1088, .ulNumDecodeSurfaces =
                                  (tcu_ulong)surfaces, .CodecType = hevc ? cudaVideoCodec_HEVC
                                  : cudaVideoCodec_H264, .ChromaFormat = cudaVideoChromaFormat_420,
                                  .ulCreationFlags = (tcu_ulong)flags,
                                  .OutputFormat = cudaVideoSurfaceFormat_NV12,
                                  .ulTargetWidth = 1920, .ulTargetHeight = 1088,
                                  .ulNumOutputSurfaces = (tcu_ulong)outputs};
    info.display_area.right = 1920;
    info.display_area.bottom = 1080;
    CUvideodecoder *decs = calloc((size_t)n, sizeof *decs);
    double *ms = calloc((size_t)n, sizeof *ms);
    job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    int64_t t0 = ps_now_ns();
    for (int t = 0, at = 0; t < threads; t++) {
        int k = n / threads + (t < n % threads);
        jobs[t] = (job){info, decs + at, k, ms + at, 0};
        at += k;
        pthread_create(&tids[t], NULL, create_main, &jobs[t]);
    }
    int failed = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        failed += jobs[t].failed;
    }
    double wall = (double)(ps_now_ns() - t0) / 1e9, sum = 0, max = 0;
    for (int i = 0; i < n; i++) sum += ms[i], max = ms[i] > max ? ms[i] : max;
    size_t after = used_bytes();
    printf("%s: %d decoders (%d failed), %d decode + %d output surfaces, flags %d, %d threads: "
           "wall %.2f s, per create %.1f ms avg %.1f max; %.1f MB each\n", hevc ? "hevc" : "h264",
           n, failed, surfaces, outputs, flags, threads, wall, sum / n, max,
           (double)(after - before) / 1048576.0 / (n - failed > 0 ? n - failed : 1));
    cu->cuCtxPushCurrent(ctx);
    for (int i = 0; i < n; i++)
        if (decs[i]) cv->cuvidDestroyDecoder(decs[i]);
    return 0;
}
