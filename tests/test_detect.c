/* End to end: `posestream detect` on the reference photographs (JPEG decode
 * with libjpeg-turbo, letterbox, network, decoder, JSON) against the TF.js
 * output for the same photographs. The reference decoded its JPEGs with
 * jpeg-js, whose pixels differ from libjpeg-turbo's by up to ~30 levels, so
 * the tolerances are those of two decoders, not of two backends: the same
 * people above 0.2 in the same order, keypoints scored above 0.3 within 0.02
 * of the input size, boxes within 0.01, scores within 0.04 (observed: 0.014,
 * 0.0015 and 0.022). The exact letterbox inversion is unit-tested in
 * test_decode; the exact network in test_golden.
 *   test_detect POSESTREAM_BINARY GOLDEN_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "golden_util.h"
#include "model/decode.h"
#include "testutil.h"

static float jnum(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? (float)v->valuedouble : NAN;
}

static float worst_kp, worst_box, worst_score;

/* Largest difference in input-normalised units between a pixel value and the
 * reference, given pixels per input unit. */
static void diff(float *worst, float got, float want, float px_per_unit) {
    float d = fabsf(got - want) / px_per_unit;
    if (!(d <= *worst)) *worst = d;
}

static void compare_person(const cJSON *p, const ps_person *want, const golden_case *c) {
    float ux = 256.0f / c->sx, uy = 256.0f / c->sy; /* image pixels per unit */
    const cJSON *box = cJSON_GetObjectItemCaseSensitive(p, "box");
    float b[4];
    for (int k = 0; k < 4; k++) b[k] = (float)cJSON_GetArrayItem(box, k)->valuedouble;
    diff(&worst_box, b[0], want->x0, ux);
    diff(&worst_box, b[1], want->y0, uy);
    diff(&worst_box, b[2], want->x1, ux);
    diff(&worst_box, b[3], want->y1, uy);
    diff(&worst_score, jnum(p, "score"), want->score, 1.0f);
    const cJSON *kps = cJSON_GetObjectItemCaseSensitive(p, "keypoints");
    TU_CHECK(cJSON_GetArraySize(kps) == PS_NUM_KEYPOINTS);
    for (int k = 0; k < PS_NUM_KEYPOINTS; k++) {
        const cJSON *kp = cJSON_GetArrayItem(kps, k);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(kp, "name");
        TU_CHECK(cJSON_IsString(name) && !strcmp(name->valuestring, ps_keypoint_names[k]));
        diff(&worst_score, jnum(kp, "score"), want->kp[k].score, 1.0f);
        if (want->kp[k].score <= 0.3f) continue;
        diff(&worst_kp, jnum(kp, "x"), want->kp[k].x, ux);
        diff(&worst_kp, jnum(kp, "y"), want->kp[k].y, uy);
    }
}

/* Checks one JSON line against case c's reference output. */
static void check_line(const char *line, const char *dir, const golden_case *c) {
    cJSON *o = cJSON_Parse(line);
    TU_CHECK(o != NULL);
    if (!o) return;
    TU_CHECK(jnum(o, "width") == c->width && jnum(o, "height") == c->height);
    float *rows = golden_read(dir, c->name, "output.f32", PS_DEFAULT_PEOPLE * PS_DECODE_ROW * 4);
    ps_placement place = {c->sx, c->sy, c->pad_x, c->pad_y, c->width, c->height};
    ps_person want[PS_MAX_PEOPLE];
    int n_want = ps_decode_people(rows, PS_DEFAULT_PEOPLE, 256, 256, &place, 0.2f, want);
    const cJSON *people = cJSON_GetObjectItemCaseSensitive(o, "people");
    int n_got = cJSON_GetArraySize(people);
    printf("%s: %d people (reference %d)\n", c->name, n_got, n_want);
    TU_CHECK(n_got == n_want);
    for (int i = 0; i < n_got && i < n_want; i++)
        compare_person(cJSON_GetArrayItem(people, i), &want[i], c);
    free(rows);
    cJSON_Delete(o);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_detect POSESTREAM GOLDEN_DIR\n");
        return 2;
    }
    const char *dir = argv[2];
    golden_case cases[GOLDEN_MAX_CASES];
    int n = golden_cases(dir, cases);
    ps_model_free(golden_model()); /* skips when the model is missing */
    char cmd[16384];
    int len = snprintf(cmd, sizeof cmd, "'%s' detect --backend cpu --batch 2", argv[1]);
    for (int i = 0; i < n; i++)
        if (cases[i].image[0])
            len += snprintf(cmd + len, sizeof cmd - (size_t)len, " '%s/%s'", dir, cases[i].image);
    FILE *p = popen(cmd, "r");
    TU_CHECK(p != NULL);
    char line[1 << 16];
    for (int i = 0; p && i < n; i++) {
        if (!cases[i].image[0]) continue;
        TU_CHECK(fgets(line, sizeof line, p) != NULL);
        check_line(line, dir, &cases[i]);
    }
    TU_CHECK(p && pclose(p) == 0);
    printf("max diff (input-normalised): keypoints %.4g (tol 0.02), boxes %.4g (tol 0.01), "
           "scores %.4g (tol 0.04)\n", worst_kp, worst_box, worst_score);
    TU_CHECK(worst_kp <= 0.02f && worst_box <= 0.01f && worst_score <= 0.04f);
    return tu_finish("test_detect");
}
