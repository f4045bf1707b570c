/* IEEE 754 binary16 <-> float32 conversion (the TF.js weight format). */
#ifndef PS_UTIL_HALF_H
#define PS_UTIL_HALF_H

#include <stdint.h>

float ps_half_to_float(uint16_t h);

#endif
