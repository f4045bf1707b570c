/* NVML, loaded at run time (libnvidia-ml.so.1 comes with the driver; nothing
 * is linked): this process's GPU memory and the GPU's utilisation. */
#ifndef PS_ENGINE_CUDA_NVML_H
#define PS_ENGINE_CUDA_NVML_H

#include <stddef.h>

typedef struct ps_nvml ps_nvml;

/* Opens NVML for the GPU at PCI bus id pci ("0000:1B:00.0"). Returns NULL
 * when NVML or the device is not available (the caller falls back). */
ps_nvml *ps_nvml_open(const char *pci);

/* GPU memory this process holds on that GPU; 0 when NVML cannot tell (e.g.
 * inside some containers). */
size_t ps_nvml_process_memory(ps_nvml *n);

/* Percent of time over the last sample period the GPU's SMs / its video
 * decoders were busy; -1 when unknown. */
int ps_nvml_gpu_util(ps_nvml *n);
int ps_nvml_decoder_util(ps_nvml *n);

void ps_nvml_close(ps_nvml *n);

#endif
