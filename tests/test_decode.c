/* Unit tests of the MoveNet decoder (src/model/decode.c): hand-made heads
 * with known answers for each rule of the graph's post-processing, a
 * randomised comparison with a literal tensor-by-tensor transcription of the
 * graph, and the mapping of rows back to image pixels. No model needed. */
#include "model/decode.h"
#include "testutil.h"

#include <math.h>
#include <string.h>

#define NK PS_NUM_KEYPOINTS
#define NP PS_DEFAULT_PEOPLE /* the graph's; fixtures may set another */
#define ROW PS_DECODE_ROW
#define SIGMA 0.300048828125f

/* ---- fixture: zeroed heads of one grid size ---- */

typedef struct {
    ps_heads h;
    float *center, *heat, *regress, *offset, *scale, *boff; /* [gh,gw,C] */
    int np; /* centres decoded (NP unless a test says) */
    float out[PS_MAX_PEOPLE * ROW];
} fixture;

static float *fx_alloc(int gh, int gw, int c)
{
    float *p = calloc((size_t)gh * gw * c, sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static void fx_init(fixture *f, int gh, int gw)
{
    f->center = fx_alloc(gh, gw, 1);
    f->heat = fx_alloc(gh, gw, NK);
    f->regress = fx_alloc(gh, gw, 2 * NK);
    f->offset = fx_alloc(gh, gw, 2 * NK);
    f->scale = fx_alloc(gh, gw, 2);
    f->boff = fx_alloc(gh, gw, 2);
    f->h = (ps_heads){f->center, f->heat, f->regress, f->offset,
                      f->scale, f->boff, gh, gw};
    f->np = NP;
}

static void fx_free(fixture *f)
{
    free(f->center);
    free(f->heat);
    free(f->regress);
    free(f->offset);
    free(f->scale);
    free(f->boff);
}

/* Element c of cell (y, x) of an NHWC [gh, gw, C] head. */
static float *at(const fixture *f, float *t, int C, int y, int x, int c)
{
    return t + ((size_t)y * f->h.gw + x) * C + c;
}

/* A person centred at (y, x) with centre score s, box (h, w) around the cell
 * plus (oy, ox), and every keypoint regressed to (ry, rx). */
static void fx_person(fixture *f, int y, int x, float s, float h, float w,
                      float oy, float ox, float ry, float rx)
{
    *at(f, f->center, 1, y, x, 0) = s;
    *at(f, f->scale, 2, y, x, 0) = h;
    *at(f, f->scale, 2, y, x, 1) = w;
    *at(f, f->boff, 2, y, x, 0) = oy;
    *at(f, f->boff, 2, y, x, 1) = ox;
    for (int k = 0; k < NK; k++) {
        *at(f, f->regress, 2 * NK, y, x, 2 * k) = ry - (float)y;
        *at(f, f->regress, 2 * NK, y, x, 2 * k + 1) = rx - (float)x;
    }
}

static void fx_decode(fixture *f)
{
    TU_CHECK(ps_decode_heads(&f->h, 4 * f->h.gh, 4 * f->h.gw, f->np, f->out) == f->np);
}

static const float *row_of(const fixture *f, int p) { return f->out + p * ROW; }
static float kp_y(const fixture *f, int p, int k) { return row_of(f, p)[3 * k]; }
static float kp_x(const fixture *f, int p, int k) { return row_of(f, p)[3 * k + 1]; }
static float kp_s(const fixture *f, int p, int k) { return row_of(f, p)[3 * k + 2]; }
static float box(const fixture *f, int p, int i) { return row_of(f, p)[3 * NK + i]; }
static float score(const fixture *f, int p) { return row_of(f, p)[ROW - 1]; }

static int near(float a, float b) { return fabsf(a - b) <= 1e-6f; }

/* ---- ps_decode_heads ---- */

/* One person, each keypoint's heat at its regressed cell: exact box,
 * keypoints with kpt_offset added, scores and person score. */
static void test_single_person(void)
{
    fixture f;
    fx_init(&f, 16, 16); /* input 64x64 */
    fx_person(&f, 5, 7, 0.8f, 6.0f, 4.0f, 0.25f, -0.5f, 0.0f, 0.0f);
    float mean = 0.0f;
    for (int k = 0; k < NK; k++) {
        int ry = 3 + k % 6, rx = 5 + k % 4; /* inside y [2.25,8.25) x [4.5,8.5) */
        *at(&f, f.regress, 2 * NK, 5, 7, 2 * k) = (float)(ry - 5);
        *at(&f, f.regress, 2 * NK, 5, 7, 2 * k + 1) = (float)(rx - 7);
        *at(&f, f.heat, NK, ry, rx, k) = 0.5f + 0.02f * k;
        *at(&f, f.offset, 2 * NK, ry, rx, 2 * k) = 0.25f;
        *at(&f, f.offset, 2 * NK, ry, rx, 2 * k + 1) = -0.125f;
        mean += (0.5f + 0.02f * k) / NK;
    }
    fx_decode(&f);
    TU_CHECK(box(&f, 0, 0) == 2.25f / 16 && box(&f, 0, 1) == 4.5f / 16);
    TU_CHECK(box(&f, 0, 2) == 8.25f / 16 && box(&f, 0, 3) == 8.5f / 16);
    for (int k = 0; k < NK; k++) {
        TU_CHECK(near(kp_y(&f, 0, k), (3 + k % 6 + 0.25f) / 16));
        TU_CHECK(near(kp_x(&f, 0, k), (5 + k % 4 - 0.125f) / 16));
        TU_CHECK(kp_s(&f, 0, k) == 0.5f + 0.02f * k);
    }
    TU_CHECK(near(score(&f, 0), 0.8f * mean));
    fx_free(&f);
}

/* The keypoint weight falls off as exp(-d^2 / (0.300048828125 * grid)). */
static void test_gaussian(void)
{
    fixture f;
    fx_init(&f, 16, 16);
    fx_person(&f, 4, 4, 0.9f, 8.0f, 8.0f, 0.0f, 0.0f, 4.0f, 4.0f);
    *at(&f, f.heat, NK, 4, 4, 0) = 0.5f; /* near, weaker: w = 0.5 */
    *at(&f, f.heat, NK, 4, 7, 0) = 0.9f; /* d^2 = 9: w = 0.138 */
    *at(&f, f.heat, NK, 4, 4, 1) = 0.1f;
    *at(&f, f.heat, NK, 4, 7, 1) = 1.0f; /* w = 0.153 beats 0.1 */
    fx_decode(&f);
    float far = expf(-9.0f / (16 * SIGMA));
    TU_CHECK(kp_x(&f, 0, 0) == 4.0f / 16 && kp_s(&f, 0, 0) == 0.5f);
    TU_CHECK(kp_x(&f, 0, 1) == 7.0f / 16 && near(kp_s(&f, 0, 1), far));
    fx_free(&f);
}

/* Equal centres: lower flat index first. Equal weights: first cell wins,
 * in flat (row-major) order, not by x. */
static void test_ties(void)
{
    fixture f;
    fx_init(&f, 16, 16);
    fx_person(&f, 12, 3, 0.7f, 2.0f, 2.0f, 0.0f, 0.0f, 12.0f, 3.0f);
    fx_person(&f, 2, 13, 0.7f, 16.0f, 16.0f, 6.0f, -5.0f, 8.0f, 8.0f);
    fx_decode(&f);
    TU_CHECK(box(&f, 0, 0) == 0.0f && box(&f, 0, 2) == 1.0f); /* (2,13) */
    TU_CHECK(box(&f, 1, 0) == 11.0f / 16 && box(&f, 1, 1) == 2.0f / 16);

    /* person (2,13): box [0,16) x [0,16), keypoints regressed to (8,8) */
    *at(&f, f.heat, NK, 8, 10, 0) = 0.6f;
    *at(&f, f.heat, NK, 8, 6, 0) = 0.6f;  /* same d^2, lower index */
    *at(&f, f.heat, NK, 9, 7, 1) = 0.6f;
    *at(&f, f.heat, NK, 7, 9, 1) = 0.6f;  /* same d^2, lower flat index */
    fx_decode(&f);
    TU_CHECK(kp_y(&f, 0, 0) == 8.0f / 16 && kp_x(&f, 0, 0) == 6.0f / 16);
    TU_CHECK(kp_y(&f, 0, 1) == 7.0f / 16 && kp_x(&f, 0, 1) == 9.0f / 16);
    fx_free(&f);
}

/* A centre under a higher one within its 5x5 window is not picked, one
 * within 1.01e-6 of the window maximum is. Boxes of size 0 at the cell mark
 * which cell each row came from. */
static void test_not_local_max(void)
{
    fixture f;
    fx_init(&f, 16, 16);
    *at(&f, f.center, 1, 5, 5, 0) = 0.9f;
    *at(&f, f.center, 1, 7, 7, 0) = 0.8f; /* window corner of (5,5) */
    *at(&f, f.center, 1, 5, 3, 0) = 0.9f - 5e-7f;
    *at(&f, f.center, 1, 12, 12, 0) = 0.5f;
    fx_decode(&f);
    const int want_y[NP] = {5, 5, 12, 0, 0, 0};
    const int want_x[NP] = {5, 3, 12, 0, 1, 2};
    for (int p = 0; p < NP; p++) {
        TU_CHECK(box(&f, p, 0) == want_y[p] / 16.0f);
        TU_CHECK(box(&f, p, 1) == want_x[p] / 16.0f);
    }
    TU_CHECK(score(&f, 3) == 0.0f);
    fx_free(&f);
}

/* Fewer than 6 peaks: the rest of the top-k are the lowest-index non-peak
 * cells with score 0, and they still count in the keypoint score maximum. */
static void test_few_peaks(void)
{
    fixture f;
    fx_init(&f, 8, 8);
    for (int i = 0; i < 64; i++)
        f.center[i] = 0.001f * (float)(i + 1); /* one peak, at (7,7) */
    fx_person(&f, 7, 7, 0.9f, 2.0f, 2.0f, 0.0f, 0.0f, 7.0f, 7.0f);
    /* phantom person at cell 1, box [0,4) x [0,4), keypoints to (2,2) */
    fx_person(&f, 0, 1, 0.002f, 4.0f, 4.0f, 2.0f, 1.0f, 2.0f, 2.0f);
    *at(&f, f.heat, NK, 2, 2, 0) = 0.6f;
    fx_decode(&f);
    for (int p = 1; p < NP; p++) {
        TU_CHECK(box(&f, p, 0) == 0.0f);
        TU_CHECK(score(&f, p) == 0.0f);
    }
    TU_CHECK(box(&f, 2, 3) == 4.0f / 8); /* row 2 is cell 1's box */
    TU_CHECK(kp_y(&f, 2, 0) == 2.0f / 8 && kp_s(&f, 2, 0) == 0.6f);
    fx_free(&f);
}

/* Boxes are clipped to the grid per axis, sizes below 0 count as 0. */
static void test_box_clip(void)
{
    fixture f;
    fx_init(&f, 16, 16);
    fx_person(&f, 1, 14, 0.9f, 6.0f, 6.0f, 0.0f, 0.0f, 1.0f, 14.0f);
    fx_person(&f, 10, 4, 0.8f, -3.0f, 2.0f, 20.0f, -9.0f, 10.0f, 4.0f);
    fx_decode(&f);
    TU_CHECK(box(&f, 0, 0) == 0.0f && box(&f, 0, 2) == 4.0f / 16);
    TU_CHECK(box(&f, 0, 1) == 11.0f / 16 && box(&f, 0, 3) == 1.0f);
    TU_CHECK(box(&f, 1, 0) == 1.0f && box(&f, 1, 2) == 1.0f);
    TU_CHECK(box(&f, 1, 1) == 0.0f && box(&f, 1, 3) == 0.0f);
    fx_free(&f);
}

/* The keypoint score is the largest w of all 6 people at the chosen cell:
 * person 0 picks (4,6) 3 cells from its regressed point, person 1 regressed
 * 1 cell away gives the higher w there. */
static void test_score_max_over_people(void)
{
    fixture f;
    fx_init(&f, 16, 16);
    fx_person(&f, 4, 4, 0.9f, 10.0f, 10.0f, 0.0f, 0.0f, 4.0f, 3.0f);
    fx_person(&f, 4, 10, 0.8f, 10.0f, 10.0f, 0.0f, 0.0f, 4.0f, 7.0f);
    *at(&f, f.heat, NK, 4, 6, 0) = 0.9f;
    fx_decode(&f);
    float w0 = 0.9f * expf(-9.0f / (16 * SIGMA));
    float w1 = 0.9f * expf(-1.0f / (16 * SIGMA));
    TU_CHECK(kp_x(&f, 0, 0) == 6.0f / 16 && kp_x(&f, 1, 0) == 6.0f / 16);
    TU_CHECK(near(kp_s(&f, 0, 0), w1) && !near(kp_s(&f, 0, 0), w0));
    TU_CHECK(near(kp_s(&f, 1, 0), w1));
    fx_free(&f);
}

/* Person score = centre x mean of keypoint scores strictly above
 * 0.126953125, 0 when none is. */
static void test_person_score(void)
{
    fixture f;
    fx_init(&f, 16, 16);
    fx_person(&f, 8, 8, 0.75f, 8.0f, 8.0f, 0.0f, 0.0f, 8.0f, 8.0f);
    for (int k = 0; k < NK; k++)
        *at(&f, f.heat, NK, 8, 8, k) = 0.1f;
    *at(&f, f.heat, NK, 8, 8, 1) = 0.126953125f; /* at the threshold: out */
    fx_decode(&f);
    TU_CHECK(score(&f, 0) == 0.0f);
    *at(&f, f.heat, NK, 8, 8, 0) = 0.5f;
    *at(&f, f.heat, NK, 8, 8, 2) = 0.2f;
    fx_decode(&f);
    TU_CHECK(near(score(&f, 0), 0.75f * 0.35f));
    fx_free(&f);
}

/* Cells outside the box (xmin <= x < xmax, ymin <= y < ymax) get w = 0;
 * with nothing left the argmax is cell 0, score 0. */
static void test_outside_box(void)
{
    fixture f;
    fx_init(&f, 16, 16);
    fx_person(&f, 5, 6, 0.9f, 4.0f, 4.0f, 0.0f, 0.0f, 5.0f, 6.0f);
    *at(&f, f.heat, NK, 5, 8, 0) = 1.0f; /* x = xmax: out */
    *at(&f, f.heat, NK, 5, 4, 0) = 0.2f; /* x = xmin: in */
    *at(&f, f.heat, NK, 2, 6, 1) = 1.0f; /* y < ymin = 3 */
    *at(&f, f.offset, 2 * NK, 0, 0, 2) = 0.5f;
    fx_decode(&f);
    float w = 0.2f * expf(-4.0f / (16 * SIGMA));
    TU_CHECK(kp_x(&f, 0, 0) == 4.0f / 16 && near(kp_s(&f, 0, 0), w));
    TU_CHECK(kp_y(&f, 0, 1) == 0.5f / 16 && kp_x(&f, 0, 1) == 0.0f);
    TU_CHECK(kp_s(&f, 0, 1) == 0.0f);
    fx_free(&f);
}

/* 8x12 grid (input 32x48): flat index -> (y, x) by gw, clipping and
 * normalising per axis, and one Gaussian width 0.300048828125 * min(gh, gw). */
static void test_non_square(void)
{
    fixture f;
    fx_init(&f, 8, 12);
    fx_person(&f, 5, 9, 0.9f, 20.0f, 5.0f, 0.0f, 0.0f, 5.0f, 9.0f);
    *at(&f, f.heat, NK, 5, 11, 0) = 0.8f; /* d^2 = 4 */
    *at(&f, f.offset, 2 * NK, 5, 11, 0) = 0.5f;
    *at(&f, f.offset, 2 * NK, 5, 11, 1) = 0.5f;
    fx_decode(&f);
    TU_CHECK(box(&f, 0, 0) == 0.0f && box(&f, 0, 2) == 1.0f);
    TU_CHECK(box(&f, 0, 1) == 6.5f * 4 / 48 && box(&f, 0, 3) == 11.5f * 4 / 48);
    TU_CHECK(near(kp_y(&f, 0, 0), 5.5f * 4 / 32));
    TU_CHECK(near(kp_x(&f, 0, 0), 11.5f * 4 / 48));
    TU_CHECK(near(kp_s(&f, 0, 0), 0.8f * expf(-4.0f / (8 * SIGMA))));
    fx_free(&f);
}

/* ---- literal transcription of the graph, for random heads ---- */

/* The graph's tensors spelled out: masked centres, TopKV2 by full sort,
 * boxes, w as a full [gh, gw, np, 17] tensor, Max, ArgMax, scores; np = 6 in
 * the graph, f->np here. */
static void literal_topk(const fixture *f, int *idx, float *val)
{
    int gh = f->h.gh, gw = f->h.gw, n = gh * gw;
    float *m = fx_alloc(gh, gw, 1);
    for (int i = 0; i < n; i++) {
        float mp = -1.0f;
        for (int y = i / gw - 2; y <= i / gw + 2; y++)
            for (int x = i % gw - 2; x <= i % gw + 2; x++)
                if (y >= 0 && y < gh && x >= 0 && x < gw)
                    mp = fmaxf(mp, f->center[y * gw + x]);
        m[i] = f->center[i] * (fabsf(f->center[i] - mp) < 1.0132789611816406e-6f);
    }
    for (int p = 0; p < f->np; p++) {
        int b = -1;
        for (int i = 0; i < n; i++) {
            int used = 0;
            for (int q = 0; q < p; q++)
                used |= idx[q] == i;
            if (!used && (b < 0 || m[i] > m[b]))
                b = i;
        }
        idx[p] = b;
        val[p] = m[b];
    }
    free(m);
}

static void literal_decode(const fixture *f, float *out)
{
    int gh = f->h.gh, gw = f->h.gw, n = gh * gw, H = 4 * gh, W = 4 * gw;
    const int np = f->np;
    int idx[PS_MAX_PEOPLE];
    float val[PS_MAX_PEOPLE], bx[PS_MAX_PEOPLE][4];
    literal_topk(f, idx, val);
    float *w = fx_alloc(n, np, NK);
    float denom = (float)(gh < gw ? gh : gw) * SIGMA;
    for (int p = 0; p < np; p++) {
        int cy = idx[p] / gw, cx = idx[p] % gw;
        float *sc = f->scale + 2 * idx[p], *of = f->boff + 2 * idx[p];
        float yc = (float)cy + of[0], xc = (float)cx + of[1];
        float hh = fmaxf(sc[0], 0.0f) * 0.5f, hw = fmaxf(sc[1], 0.0f) * 0.5f;
        bx[p][0] = fmaxf(fminf(yc - hh, (float)gh), 0.0f);
        bx[p][1] = fmaxf(fminf(xc - hw, (float)gw), 0.0f);
        bx[p][2] = fmaxf(fminf(yc + hh, (float)gh), 0.0f);
        bx[p][3] = fmaxf(fminf(xc + hw, (float)gw), 0.0f);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < NK; k++) {
                float ry = (float)cy + f->regress[idx[p] * 2 * NK + 2 * k];
                float rx = (float)cx + f->regress[idx[p] * 2 * NK + 2 * k + 1];
                float y = (float)(i / gw), x = (float)(i % gw);
                float d2 = (y - ry) * (y - ry) + (x - rx) * (x - rx);
                int in = y >= bx[p][0] && y < bx[p][2] && x >= bx[p][1] && x < bx[p][3];
                w[(i * np + p) * NK + k] =
                    f->heat[i * NK + k] * expf(-d2 / denom) * (float)in;
            }
    }
    for (int p = 0; p < np; p++) {
        float *row = out + p * ROW, cnt = 0.0f;
        double sum = 0.0;
        for (int k = 0; k < NK; k++) {
            int b = 0;
            for (int i = 1; i < n; i++)
                if (w[(i * np + p) * NK + k] > w[(b * np + p) * NK + k])
                    b = i;
            float s = 0.0f;
            for (int q = 0; q < np; q++)
                s = fmaxf(s, w[(b * np + q) * NK + k]);
            row[3 * k] = ((float)(b / gw) + f->offset[b * 2 * NK + 2 * k]) * (4.0f / H);
            row[3 * k + 1] = ((float)(b % gw) + f->offset[b * 2 * NK + 2 * k + 1]) * (4.0f / W);
            row[3 * k + 2] = s;
            sum += val[p] * (s > 0.126953125f ? s : 0.0f);
            cnt += s > 0.126953125f;
        }
        for (int i = 0; i < 4; i++)
            row[3 * NK + i] = fmaxf(fminf(bx[p][i] * 4.0f / (i % 2 ? W : H), 1.0f), 0.0f);
        row[ROW - 1] = (1.0f / fmaxf(cnt, 1.0f)) * (float)sum;
    }
    free(w);
}

/* Random heads with a few strong centres; the decoder, taking np centres,
 * must agree with the literal transcription exactly. */
static void test_random_vs_literal(int gh, int gw, int np, unsigned long long seed)
{
    fixture f;
    fx_init(&f, gh, gw);
    f.np = np;
    int n = gh * gw;
    for (int i = 0; i < n; i++) {
        f.center[i] = tu_randf(&seed, 0.0f, 0.2f);
        for (int k = 0; k < NK; k++)
            f.heat[i * NK + k] = tu_randf(&seed, 0.0f, 1.0f);
        for (int c = 0; c < 2 * NK; c++) {
            f.regress[i * 2 * NK + c] = tu_randf(&seed, -6.0f, 6.0f);
            f.offset[i * 2 * NK + c] = tu_randf(&seed, -1.0f, 1.0f);
        }
        for (int c = 0; c < 2; c++) {
            f.scale[i * 2 + c] = tu_randf(&seed, -2.0f, 14.0f);
            f.boff[i * 2 + c] = tu_randf(&seed, -1.0f, 1.0f);
        }
    }
    for (int j = 0; j < 4; j++)
        f.center[(int)tu_randf(&seed, 0.0f, (float)n)] = tu_randf(&seed, 0.3f, 1.0f);
    float want[PS_MAX_PEOPLE * ROW];
    fx_decode(&f);
    literal_decode(&f, want);
    char name[64];
    snprintf(name, sizeof name, "random %dx%d, %d centres, vs literal graph", gh, gw, np);
    tu_close(name, f.out, want, np * ROW, 0.0f);
    fx_free(&f);
}

/* A crowd: 20 separate people on a 40x40 grid. At 6 centres the graph's
 * answer, the 6 best; at PS_MAX_PEOPLE all 20, the first 6 rows with the
 * same keypoints and boxes (each person's argmax is its own) and scores at
 * least as high (a keypoint's score is the maximum over more people). */
static void test_crowd(void)
{
    fixture f;
    fx_init(&f, 40, 40);
    for (int i = 0; i < 20; i++) {
        int y = 4 + 8 * (i / 5), x = 4 + 8 * (i % 5);
        fx_person(&f, y, x, 0.3f + 0.03f * (float)i, 6.0f, 6.0f, 0.0f, 0.0f,
                  (float)y, (float)x);
        for (int k = 0; k < NK; k++)
            *at(&f, f.heat, NK, y, x, k) = 0.8f;
    }
    float six[NP * ROW];
    fx_decode(&f);
    memcpy(six, f.out, sizeof six);
    f.np = PS_MAX_PEOPLE;
    fx_decode(&f);
    int found = 0, same = 1;
    for (int p = 0; p < PS_MAX_PEOPLE; p++)
        found += score(&f, p) > 0.2f;
    for (int p = 0; p < NP; p++)
        for (int i = 0; i < ROW; i++)
            same &= i % 3 == 2 && i < 3 * NK ? f.out[p * ROW + i] >= six[p * ROW + i]
                    : i == ROW - 1 ? f.out[p * ROW + i] >= six[p * ROW + i]
                                   : f.out[p * ROW + i] == six[p * ROW + i];
    printf("crowd of 20: %d found at %d centres (6 at 6), best 6 rows %s\n", found,
           PS_MAX_PEOPLE, same ? "as at 6" : "DIFFER");
    TU_CHECK(found == 20 && same);
    /* the best: centre 0.87 times its keypoints' heat 0.8; row 20 a non-peak */
    TU_CHECK(fabsf(score(&f, 0) - 0.87f * 0.8f) < 1e-5f && score(&f, 20) == 0.0f);
    fx_free(&f);
}

/* ---- ps_decode_people ---- */

/* An image placed in a 256x256 input at scale (0.5, 0.25) with padding
 * (16, 32). Rows with scores 0.3, 0.9, 0.1, 0.9, 0.5, 0.25 and min 0.25 keep
 * rows 1, 3, 4, 0, 5 in that order (ties in row order, min inclusive). */
static void test_people(void)
{
    float rows[NP * ROW] = {0};
    const float scores[NP] = {0.3f, 0.9f, 0.1f, 0.9f, 0.5f, 0.25f};
    for (int r = 0; r < NP; r++) {
        float *row = rows + r * ROW;
        row[0] = 0.5f;            /* nose y: 128 input pixels */
        row[1] = 0.25f;           /* nose x: 64 */
        row[2] = (float)r;        /* marks the row */
        row[3 * NK + 0] = 0.0f;   /* ymin: in the padding, above the image */
        row[3 * NK + 1] = 0.125f; /* xmin: 32 */
        row[3 * NK + 2] = 0.75f;  /* ymax: 192 */
        row[3 * NK + 3] = 1.0f;   /* xmax: 256 */
        row[ROW - 1] = scores[r];
    }
    ps_placement pl = {0.5f, 0.25f, 16.0f, 32.0f, 500, 700};
    ps_person people[PS_MAX_PEOPLE];
    int n = ps_decode_people(rows, NP, 256, 256, &pl, 0.25f, people);
    const int want[5] = {1, 3, 4, 0, 5};
    TU_CHECK(n == 5);
    for (int i = 0; i < n && i < 5; i++) {
        TU_CHECK(people[i].kp[0].score == (float)want[i]);
        TU_CHECK(people[i].score == scores[want[i]]);
    }
    TU_CHECK(people[0].kp[0].y == 384.0f && people[0].kp[0].x == 96.0f);
    TU_CHECK(people[0].y0 == 0.0f && people[0].x0 == 32.0f);
    TU_CHECK(people[0].y1 == 640.0f && people[0].x1 == 480.0f);
    TU_CHECK(ps_decode_people(rows, NP, 256, 256, &pl, 0.95f, people) == 0);
    TU_CHECK(ps_decode_people(rows, 2, 256, 256, &pl, 0.25f, people) == 2); /* rows 0, 1 */
    pl.image_w = 400; /* the box reaches past the image's right edge */
    pl.image_h = 600;
    TU_CHECK(ps_decode_people(rows, NP, 256, 256, &pl, 0.25f, people) == 5);
    TU_CHECK(people[0].x1 == 400.0f && people[0].y1 == 600.0f && people[0].x0 == 32.0f);
}

int main(void)
{
    test_single_person();
    test_gaussian();
    test_ties();
    test_not_local_max();
    test_few_peaks();
    test_box_clip();
    test_score_max_over_people();
    test_person_score();
    test_outside_box();
    test_non_square();
    test_random_vs_literal(16, 16, NP, 1);
    test_random_vs_literal(8, 12, NP, 2);
    test_random_vs_literal(12, 8, NP, 3);
    test_random_vs_literal(16, 16, PS_MAX_PEOPLE, 4);
    test_random_vs_literal(12, 8, PS_MAX_PEOPLE, 5);
    test_random_vs_literal(8, 8, 1, 6);
    test_crowd();
    test_people();
    return tu_finish("test_decode");
}
