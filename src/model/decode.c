/* MoveNet MultiPose decoder: the graph's post-processing (everything after
 * the six heads in movenet-multipose.json) as plain C, plus the mapping of its
 * [6,56] rows back to people in pixels of the original image. The graph's
 * TopK takes 6 centres; here it takes np (the heads are dense over the whole
 * grid, so a crowd has more than 6 peaks), every later step unchanged.
 *
 * The graph settles every detail MODEL.md leaves open; node names below are
 * under StatefulPartitionedCall/. gh, gw = grid size; H, W = input size
 * (the graph takes H = 4*gh, W = 4*gw from the heads' shape: mul, mul_1).
 *
 * Arithmetic is float32 in the graph's order, so that the discrete choices
 * (top-k, argmax, thresholds) match TF.js on the same heads: on random heads
 * the rows are bit-exact with TF.js 4.22's cpu backend. That needs a * b + c
 * left unfused: GCC does not contract in ISO C mode (-std=c11); Clang does
 * unless told not to, below. */
#include "model/decode.h"

#include <math.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define NK PS_NUM_KEYPOINTS

/* float16 constants stored in the weights file */
#define PEAK_TOL 1.0132789611816406e-6f /* Less/y */
#define SIGMA_SCALE 0.300048828125f     /* mul_6/y */
#define KPT_MIN_SCORE 0.126953125f      /* Greater_1/y */

/* One centre picked by the top-k, and its box in grid units. */
typedef struct {
    int cy, cx;
    float score;                  /* masked centre value, 0 if not a peak */
    float ymin, xmin, ymax, xmax; /* clipped to [0,gh] x [0,gw] */
    float ry[NK], rx[NK];         /* regressed keypoints, grid units */
} centre;

/* Masked centre value of cell (y, x): the heat if it is within PEAK_TOL of
 * the 5x5 SAME max-pool (padding never wins), else 0 (Abs, Less, Cast_1,
 * mul_2). c: [gh, gw]. */
static float peak_value(const float *c, int gh, int gw, int y, int x)
{
    float m = c[y * gw + x];
    for (int yy = y - 2; yy <= y + 2; yy++) {
        if (yy < 0 || yy >= gh)
            continue;
        for (int xx = x - 2; xx <= x + 2; xx++)
            if (xx >= 0 && xx < gw && c[yy * gw + xx] > m)
                m = c[yy * gw + xx];
    }
    float v = c[y * gw + x];
    return fabsf(v - m) < PEAK_TOL ? v : 0.0f;
}

/* TopKV2, k = np, sorted: the np largest masked values over the flat grid,
 * value descending, lower index first on ties. Non-peaks take part with
 * value 0, so with fewer than np peaks the rest are the lowest-index cells
 * of value 0, decoded like any other (they also count in the keypoint score
 * maximum; their own score is 0). idx[np], val[np]; np <= the grid's cells. */
static void top_centres(const float *c, int gh, int gw, int np, int *idx,
                        float *val)
{
    int n = 0;
    for (int i = 0; i < gh * gw; i++) {
        float v = peak_value(c, gh, gw, i / gw, i % gw);
        if (n == np && !(v > val[np - 1]))
            continue;
        /* insert after every entry >= v: earlier indices win ties */
        int j = n < np ? n++ : np - 1;
        while (j > 0 && val[j - 1] < v) {
            val[j] = val[j - 1];
            idx[j] = idx[j - 1];
            j--;
        }
        val[j] = v;
        idx[j] = i;
    }
}

/* Box of centre (cy, cx) in grid units, clipped per axis: y to [0, gh],
 * x to [0, gw] (clip_by_value..clip_by_value_3 against Cast_2, Cast_3).
 * size = max(box_scale, 0) (Maximum); corners = centre -/+ size * 0.5
 * (sub_5, sub_6; the max corners are AddN(c, offset, size*0.5)). */
static void centre_box(const ps_heads *h, centre *p)
{
    const float *sc = h->box_scale + 2 * (p->cy * h->gw + p->cx);
    const float *of = h->box_offset + 2 * (p->cy * h->gw + p->cx);
    float half_h = fmaxf(sc[0], 0.0f) * 0.5f;
    float half_w = fmaxf(sc[1], 0.0f) * 0.5f;
    float y = (float)p->cy + of[0];
    float x = (float)p->cx + of[1];
    float gh = (float)h->gh, gw = (float)h->gw;
    p->ymin = fmaxf(fminf(y - half_h, gh), 0.0f);
    p->xmin = fmaxf(fminf(x - half_w, gw), 0.0f);
    p->ymax = fmaxf(fminf(y + half_h, gh), 0.0f);
    p->xmax = fmaxf(fminf(x + half_w, gw), 0.0f);
}

/* Regressed keypoints: (cy, cx) + kpt_regress[cy, cx] (add_6, add_7). */
static void centre_keypoints(const ps_heads *h, centre *p)
{
    const float *r = h->kpt_regress + 2 * NK * (p->cy * h->gw + p->cx);
    for (int k = 0; k < NK; k++) {
        p->ry[k] = (float)p->cy + r[2 * k];
        p->rx[k] = (float)p->cx + r[2 * k + 1];
    }
}

/* Whether grid cell (y, x) lies in p's box: ymin <= y < ymax and
 * xmin <= x < xmax, on the clipped grid-unit box (GreaterEqual, Less_1,
 * GreaterEqual_1, Less_2). */
static int in_box(const centre *p, int y, int x)
{
    float fy = (float)y, fx = (float)x;
    return fy >= p->ymin && fy < p->ymax && fx >= p->xmin && fx < p->xmax;
}

/* w of person p, keypoint k at cell (y, x): heat * exp(-d^2 / denom), with
 * d^2 = (y - ry)^2 + (x - rx)^2 (sub_7, sub_8 SquaredDifference, add_8,
 * mul_7, truediv_7, Exp, mul_8), 0 outside p's box (mul_9). */
static float kpt_weight(const ps_heads *h, const centre *p, int k, int y,
                        int x, float denom)
{
    if (!in_box(p, y, x))
        return 0.0f;
    float dy = (float)y - p->ry[k], dx = (float)x - p->rx[k];
    float d2 = dy * dy + dx * dx;
    float heat = h->kpt_heat[NK * (y * h->gw + x) + k];
    return heat * expf(-d2 / denom);
}

/* ArgMax over the flat grid of person p's w for keypoint k, first index
 * winning ties (ArgMax on Reshape_16 [gh*gw, 102]). w is 0 outside the box
 * and never negative, so the answer is the first box cell with the largest
 * w above 0, or else cell 0 (empty box, all w = 0), as in the graph. */
static int kpt_argmax(const ps_heads *h, const centre *p, int k, float denom)
{
    int best = 0;
    float best_w = 0.0f;
    for (int y = 0; y < h->gh; y++) {
        if (!((float)y >= p->ymin && (float)y < p->ymax))
            continue;
        for (int x = 0; x < h->gw; x++) {
            float w = kpt_weight(h, p, k, y, x, denom);
            if (w > best_w) {
                best_w = w;
                best = y * h->gw + x;
            }
        }
    }
    return best;
}

/* Keypoint score: the maximum over all np people of w at the chosen cell
 * (Max over the people axis, then GatherNd_4). */
static float kpt_score(const ps_heads *h, const centre *ps, int np, int k,
                       int y, int x, float denom)
{
    float s = kpt_weight(h, &ps[0], k, y, x, denom);
    for (int q = 1; q < np; q++)
        s = fmaxf(s, kpt_weight(h, &ps[q], k, y, x, denom));
    return s;
}

/* Person score: centre * mean of the keypoint scores above KPT_MIN_SCORE, or
 * 0 if none is (Greater_1, Select, mul_14, Sum_3, Sum_2, Maximum_1,
 * Reciprocal truediv_10, mul_15). kscore[17]. The sum runs in double and is
 * rounded once, as TF.js's cpu backend sums float32 values; that makes the
 * score bit-exact with it (a float sum is off by an ulp at times). */
static float person_score(float centre_score, const float *kscore)
{
    double sum = 0.0;
    float n = 0.0f;
    for (int k = 0; k < NK; k++) {
        int above = kscore[k] > KPT_MIN_SCORE;
        sum += centre_score * (above ? kscore[k] : 0.0f);
        n += above ? 1.0f : 0.0f;
    }
    return (1.0f / fmaxf(n, 1.0f)) * (float)sum;
}

/* Fills one [56] output row for person p. Keypoints: argmax cell +
 * kpt_offset there (add_9, add_10), times the float32 constants 4/H and 4/W
 * (truediv_8, truediv_9, mul_11), not clipped. Box: corners * 4 / H or W per
 * axis (mul_5, truediv_6), clipped to [0, 1] (clip_by_value_4). */
static void fill_row(const ps_heads *h, const centre *ps, int np, int p,
                     int input_h, int input_w, float denom, float *row)
{
    const float sy = 4.0f / (float)input_h, sx = 4.0f / (float)input_w;
    float kscore[NK];
    for (int k = 0; k < NK; k++) {
        int cell = kpt_argmax(h, &ps[p], k, denom);
        int y = cell / h->gw, x = cell % h->gw;
        const float *off = h->kpt_offset + 2 * (NK * cell + k);
        kscore[k] = kpt_score(h, ps, np, k, y, x, denom);
        row[3 * k] = ((float)y + off[0]) * sy;
        row[3 * k + 1] = ((float)x + off[1]) * sx;
        row[3 * k + 2] = kscore[k];
    }
    const float box[4] = {ps[p].ymin, ps[p].xmin, ps[p].ymax, ps[p].xmax};
    for (int i = 0; i < 4; i++) {
        float size = (float)(i % 2 == 0 ? input_h : input_w);
        float v = box[i] * 4.0f / size;
        row[3 * NK + i] = fmaxf(fminf(v, 1.0f), 0.0f);
    }
    row[3 * NK + 4] = person_score(ps[p].score, kscore);
}

int ps_decode_heads(const ps_heads *heads, int input_h, int input_w, int np,
                    float *out)
{
    int cells = heads->gh * heads->gw;
    np = np < 1 ? 1 : np > PS_MAX_PEOPLE ? PS_MAX_PEOPLE : np;
    np = np > cells ? cells : np;
    int idx[PS_MAX_PEOPLE];
    float val[PS_MAX_PEOPLE];
    centre ps[PS_MAX_PEOPLE];
    top_centres(heads->center, heads->gh, heads->gw, np, idx, val);
    for (int p = 0; p < np; p++) {
        ps[p].cy = idx[p] / heads->gw;
        ps[p].cx = idx[p] % heads->gw;
        ps[p].score = val[p];
        centre_box(heads, &ps[p]);
        centre_keypoints(heads, &ps[p]);
    }
    /* One number for both axes: 0.300048828125 * min(gh, gw) (Minimum,
     * Cast_11, mul_6). */
    int gmin = heads->gh < heads->gw ? heads->gh : heads->gw;
    float denom = (float)gmin * SIGMA_SCALE;
    for (int p = 0; p < np; p++)
        fill_row(heads, ps, np, p, input_h, input_w, denom,
                 out + p * PS_DECODE_ROW);
    return np;
}

/* Normalised input coordinates -> pixels of the original image. */
static float unplace_x(const ps_placement *pl, float nx, int input_w)
{
    return (nx * (float)input_w - pl->pad_x) / pl->sx;
}

static float unplace_y(const ps_placement *pl, float ny, int input_h)
{
    return (ny * (float)input_h - pl->pad_y) / pl->sy;
}

/* One row -> one person in image pixels; the box is clipped to the image. */
static void row_to_person(const float *row, int input_h, int input_w,
                          const ps_placement *pl, ps_person *out)
{
    for (int k = 0; k < NK; k++) {
        out->kp[k].y = unplace_y(pl, row[3 * k], input_h);
        out->kp[k].x = unplace_x(pl, row[3 * k + 1], input_w);
        out->kp[k].score = row[3 * k + 2];
    }
    const float *b = row + 3 * NK;
    float w = (float)pl->image_w, h = (float)pl->image_h;
    out->y0 = fminf(fmaxf(unplace_y(pl, b[0], input_h), 0.0f), h);
    out->x0 = fminf(fmaxf(unplace_x(pl, b[1], input_w), 0.0f), w);
    out->y1 = fminf(fmaxf(unplace_y(pl, b[2], input_h), 0.0f), h);
    out->x1 = fminf(fmaxf(unplace_x(pl, b[3], input_w), 0.0f), w);
    out->score = b[4];
    out->id = 0; /* untracked: the tracker, where one runs, sets it */
}

int ps_decode_people(const float *rows, int np, int input_h, int input_w,
                     const ps_placement *place, float min_score,
                     ps_person people[PS_MAX_PEOPLE])
{
    int n = 0;
    for (int r = 0; r < np && r < PS_MAX_PEOPLE; r++) {
        const float *row = rows + r * PS_DECODE_ROW;
        if (!(row[PS_DECODE_ROW - 1] >= min_score))
            continue;
        ps_person p;
        row_to_person(row, input_h, input_w, place, &p);
        /* insertion sort, strictly greater moves up: ties keep row order */
        int j = n++;
        while (j > 0 && people[j - 1].score < p.score) {
            people[j] = people[j - 1];
            j--;
        }
        people[j] = p;
    }
    return n;
}
