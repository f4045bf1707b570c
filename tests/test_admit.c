/* Memory-aware admission (src/pipeline/admit.c) on made-up figures: a
 * stream that fits is admitted, one that does not waits while others are
 * still settling and is refused once none are, with a message naming the
 * figures and the limit; the measured average replaces the frame-size
 * estimate only when every running stream has settled; the device's free
 * memory counts as well as the budget; host memory is judged the same way.
 * No GPU needed. */
#include <string.h>

#include "pipeline/admit.h"
#include "testutil.h"

#define MB ((size_t)1 << 20)

/* The refusal's line for in and need, printed; into why[WHY]. */
#define WHY 512
static void refusal(const ps_admit_in *in, size_t need, int measured, char why[WHY]) {
    ps_admit_explain(in, need, measured, why, WHY);
    printf("%s refusal: %s\n", in->kind == PS_MEM_HOST ? "host" : "device", why);
}

static void test_fits_or_not(void) {
    ps_admit_in in = {.limit = 1000 * MB, .used = 600 * MB, .base = 500 * MB,
                      .static_need = 100 * MB};
    int measured;
    size_t need = ps_admit_need(&in, &measured);
    TU_CHECK(need == 100 * MB && !measured); /* no stream running yet */
    TU_CHECK(ps_admit_decide(&in, need) == PS_ADMIT_YES);
    in.reserved = 350 * MB; /* 600 + 350 + 100 > 1000: wait for them to settle */
    TU_CHECK(ps_admit_decide(&in, need) == PS_ADMIT_WAIT);
    in.reserved = 0;
    in.used = 950 * MB;
    TU_CHECK(ps_admit_decide(&in, need) == PS_ADMIT_REFUSE);
    char why[WHY];
    refusal(&in, need, measured, why);
    TU_CHECK(strstr(why, "100 MB") && strstr(why, "950 MB") && strstr(why, "1000 MB") &&
             strstr(why, "--max-vram-gb"));
}

static void test_measured_average(void) {
    /* 10 streams settled, 300 MB over the base: 30 MB each, not the 100 MB
     * the frame size suggests, so 15 more fit where 4 would by estimate */
    ps_admit_in in = {.limit = 1250 * MB, .used = 800 * MB, .base = 500 * MB, .active = 10,
                      .static_need = 100 * MB};
    int measured;
    size_t need = ps_admit_need(&in, &measured);
    printf("measured need: %zu MB\n", need / MB);
    TU_CHECK(measured && need == 30 * MB);
    int admitted = 0;
    while (ps_admit_decide(&in, need) == PS_ADMIT_YES && admitted < 100) {
        in.used += need;
        admitted++;
    }
    printf("admitted on measured figures: %d\n", admitted);
    TU_CHECK(admitted == 15);
    in.reserved = 30 * MB; /* one still settling: back to the estimate */
    need = ps_admit_need(&in, &measured);
    TU_CHECK(!measured && need == 100 * MB);
}

/* No budget set: only the device's free memory, less the margin, counts. */
static void test_device_free(void) {
    ps_admit_in in = {.used = 100 * MB, .free_now = 400 * MB, .static_need = 100 * MB};
    int measured;
    size_t need = ps_admit_need(&in, &measured);
    TU_CHECK(ps_admit_decide(&in, need) == PS_ADMIT_YES); /* 100 + 256 <= 400 */
    in.free_now = 300 * MB;
    TU_CHECK(ps_admit_decide(&in, need) == PS_ADMIT_REFUSE);
    char why[WHY];
    refusal(&in, need, measured, why);
    TU_CHECK(strstr(why, "300 MB free") != NULL);
}

/* Host memory: the same arithmetic, and a refusal that says it is host
 * memory and names its own option (and the machine's available memory). */
static void test_host(void) {
    ps_admit_in in = {.kind = PS_MEM_HOST, .limit = 500 * MB, .used = 450 * MB, .base = 300 * MB,
                      .active = 3, .static_need = 20 * MB};
    int measured;
    size_t need = ps_admit_need(&in, &measured);
    TU_CHECK(measured && need == 50 * MB); /* (450 - 300) / 3 */
    TU_CHECK(ps_admit_decide(&in, need) == PS_ADMIT_YES); /* 450 + 50 <= 500 */
    in.used = 460 * MB;
    TU_CHECK(ps_admit_decide(&in, need) == PS_ADMIT_REFUSE);
    char why[WHY];
    refusal(&in, need, measured, why);
    TU_CHECK(strstr(why, "host memory") && strstr(why, "--max-host-gb") && strstr(why, "500 MB"));
    in = (ps_admit_in){.kind = PS_MEM_HOST, .free_now = 200 * MB, .static_need = 20 * MB};
    need = ps_admit_need(&in, &measured);
    TU_CHECK(ps_admit_decide(&in, need) == PS_ADMIT_REFUSE); /* 20 + 256 > 200 */
    refusal(&in, need, measured, why);
    TU_CHECK(strstr(why, "machine has 200 MB available") != NULL);
}

int main(void) {
    test_fits_or_not();
    test_measured_average();
    test_device_free();
    test_host();
    return tu_finish("test_admit");
}
