/* Shared test helpers (see testutil.h). */
#include "testutil.h"

#include <math.h>
#include <stdint.h>

int tu_failures = 0;

int tu_close(const char *name, const float *a, const float *b, size_t n,
             float tol) {
    double worst = 0;
    size_t at = 0;
    int nan = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(d)) { nan = 1; at = i; break; }
        if (d > worst) { worst = d; at = i; }
    }
    int ok = !nan && worst <= tol;
    printf("%-40s max abs diff %.3g (at %zu: %.6g vs %.6g), tol %.3g %s\n",
           name, nan ? NAN : worst, at, n ? a[at] : 0.0, n ? b[at] : 0.0,
           tol, ok ? "ok" : "FAIL");
    if (!ok) tu_failures++;
    return ok;
}

float tu_randf(unsigned long long *s, float lo, float hi) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t r = (uint32_t)(*s >> 40);
    return lo + (hi - lo) * (float)r / (float)(1u << 24);
}

void *tu_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *size = (size_t)n;
    }
    return buf;
}

int tu_finish(const char *name) {
    if (tu_failures) {
        printf("%s: FAIL (%d checks failed)\n", name, tu_failures);
        return 1;
    }
    printf("%s: PASS\n", name);
    return 0;
}
