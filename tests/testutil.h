/* Small helpers shared by the tests: checks that report file and line,
 * tensor comparison that prints how far off it is, deterministic randoms. */
#ifndef PS_TESTUTIL_H
#define PS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>

extern int tu_failures;

#define TU_CHECK(cond)                                                        \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                   \
            tu_failures++;                                                    \
        }                                                                     \
    } while (0)

#define TU_SKIP(...)                                                          \
    do {                                                                      \
        fprintf(stderr, "SKIP: " __VA_ARGS__);                                \
        fputc('\n', stderr);                                                  \
        exit(77);                                                             \
    } while (0)

/* Prints "name: max abs diff X (at i, a vs b), tol T" and returns 1 when
 * every |a[i] - b[i]| <= tol, else counts a failure and returns 0. */
int tu_close(const char *name, const float *a, const float *b, size_t n,
             float tol);

/* Uniform float in [lo, hi) from a fixed-seed generator (state *s). */
float tu_randf(unsigned long long *s, float lo, float hi);

/* Reads a whole file; returns NULL if missing. *size gets its length. */
void *tu_read_file(const char *path, size_t *size);

/* Prints PASS/FAIL and returns the process exit status. */
int tu_finish(const char *name);

#endif
