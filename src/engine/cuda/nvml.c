/* NVML through dlopen (see nvml.h). The few types used are declared here
 * with NVML's stable ABI, so no NVML header or library is needed to build. */
#include "engine/cuda/nvml.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct { /* nvmlProcessInfo_t as the _v3 query fills it */
    unsigned int pid;
    unsigned long long used;
    unsigned int gpu_instance, compute_instance;
} nvml_proc;

typedef struct {
    unsigned int gpu, memory;
} nvml_util;

struct ps_nvml {
    void *lib;
    void *dev;
    int (*processes)(void *dev, unsigned int *count, nvml_proc *infos);
    int (*utilization)(void *dev, nvml_util *u);
    int (*decoder)(void *dev, unsigned int *util, unsigned int *period_us);
    int (*shutdown)(void);
};

ps_nvml *ps_nvml_open(const char *pci) {
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return NULL;
    int (*init)(void) = (int (*)(void))dlsym(lib, "nvmlInit_v2");
    int (*by_pci)(const char *, void **) =
        (int (*)(const char *, void **))dlsym(lib, "nvmlDeviceGetHandleByPciBusId_v2");
    ps_nvml *n = calloc(1, sizeof *n);
    if (!n || !init || !by_pci || init() != 0) {
        free(n);
        dlclose(lib);
        return NULL;
    }
    n->lib = lib;
    n->shutdown = (int (*)(void))dlsym(lib, "nvmlShutdown");
    n->processes = (int (*)(void *, unsigned int *, nvml_proc *))dlsym(
        lib, "nvmlDeviceGetComputeRunningProcesses_v3");
    n->utilization = (int (*)(void *, nvml_util *))dlsym(lib, "nvmlDeviceGetUtilizationRates");
    n->decoder = (int (*)(void *, unsigned int *, unsigned int *))dlsym(
        lib, "nvmlDeviceGetDecoderUtilization");
    if (by_pci(pci, &n->dev) != 0) {
        ps_nvml_close(n);
        return NULL;
    }
    return n;
}

size_t ps_nvml_process_memory(ps_nvml *n) {
    nvml_proc procs[64];
    unsigned int count = 64;
    if (!n || !n->processes || n->processes(n->dev, &count, procs) != 0) return 0;
    unsigned int me = (unsigned int)getpid();
    for (unsigned int i = 0; i < count && i < 64; i++)
        if (procs[i].pid == me && procs[i].used != ~0ull) return (size_t)procs[i].used;
    return 0;
}

int ps_nvml_gpu_util(ps_nvml *n) {
    nvml_util u;
    if (!n || !n->utilization || n->utilization(n->dev, &u) != 0) return -1;
    return (int)u.gpu;
}

int ps_nvml_decoder_util(ps_nvml *n) {
    unsigned int util, period;
    if (!n || !n->decoder || n->decoder(n->dev, &util, &period) != 0) return -1;
    return (int)util;
}

void ps_nvml_close(ps_nvml *n) {
    if (!n) return;
    if (n->shutdown) n->shutdown();
    dlclose(n->lib);
    free(n);
}
