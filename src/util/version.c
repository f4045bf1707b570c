/* The library's version and build (posestream.h). */
#include "posestream.h"

#define PS_STR2(x) #x
#define PS_STR(x) PS_STR2(x)

const char *ps_version(void) {
    return PS_STR(PS_VERSION_MAJOR) "." PS_STR(PS_VERSION_MINOR) "." PS_STR(PS_VERSION_PATCH);
}

int ps_has_cuda(void) {
#ifdef POSESTREAM_HAVE_CUDA
    return 1;
#else
    return 0;
#endif
}
