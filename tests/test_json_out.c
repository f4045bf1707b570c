/* The JSON writer (src/util/json_out.c) and the JSON built on it
 * (src/sink/json.c), every case parsed back with cJSON: string escapes
 * (quotes, backslashes, every control byte, 0x7f), UTF-8 passed through and
 * invalid bytes as U+FFFD, numbers at fixed decimals rounded as printf
 * rounds, non-finite as null, comma placement when nested, the results line
 * and detection object field by field, the results file byte for byte as
 * printf wrote it before the writer, the snprintf contract of the
 * ps_*_to_json functions, and '.' under a locale whose decimal point is ','
 * (skipped, saying so, when no such locale is installed). */
#include <cjson/cJSON.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink/json.h"
#include "sink/results.h"
#include "source/frame.h"
#include "testutil.h"

/* A writer into memory; cap_text closes it and returns the text (freed by
 * the caller). */
typedef struct {
    FILE *f;
    char *buf;
    size_t len;
    ps_json w;
} capture;

static void cap_open(capture *c) {
    c->buf = NULL;
    c->f = open_memstream(&c->buf, &c->len);
    if (!c->f) TU_SKIP("open_memstream: out of memory");
    ps_json_init(&c->w, c->f);
}

static char *cap_text(capture *c) {
    fclose(c->f);
    return c->buf;
}

/* Any byte JSON or a terminal should not see raw: below 0x20, or 0x7f. */
static int has_raw_control(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 1;
    return 0;
}

/* Writes in as a string and checks that it parses back as want. Returns the
 * text (freed by the caller). */
static char *check_string(const char *label, const char *in, const char *want) {
    capture c;
    cap_open(&c);
    ps_json_string(&c.w, in);
    char *text = cap_text(&c);
    cJSON *j = cJSON_Parse(text);
    const char *got = cJSON_GetStringValue(j);
    int ok = got && !strcmp(got, want) && !has_raw_control(text);
    printf("string %-26s %-4s %s\n", label, ok ? "ok" : "FAIL", text);
    TU_CHECK(ok);
    cJSON_Delete(j);
    return text;
}

static void test_strings(void) {
    free(check_string("quotes", "say \"hi\"", "say \"hi\""));
    free(check_string("backslashes", "a\\b\\\\", "a\\b\\\\"));
    char ctl[34];
    for (int c = 1; c < 0x20; c++) ctl[c - 1] = (char)c;
    ctl[31] = 0x7f;
    ctl[32] = 'z';
    ctl[33] = '\0';
    char *text = check_string("0x01..0x1f, 0x7f", ctl, ctl);
    TU_CHECK(strstr(text, "\\b\\t\\n\\u000b\\f\\r") && strstr(text, "\\u0001"));
    TU_CHECK(strstr(text, "\\u001f\\u007fz"));
    free(text);
    free(check_string("UTF-8 é 日本 😀", "é 日本 😀", "é 日本 😀"));
    free(check_string("lone 0xff", "a\xff" "b", "a\xef\xbf\xbd" "b"));
    free(check_string("truncated 日 (e6 97)", "\xe6\x97", "\xef\xbf\xbd\xef\xbf\xbd"));
    free(check_string("overlong c0 af", "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"));
    free(check_string("surrogate ed a0 80", "\xed\xa0\x80",
                      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));
    free(check_string("past U+10FFFF f4 90 80 80", "\xf4\x90\x80\x80",
                      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));
    capture c;
    cap_open(&c);
    ps_json_string(&c.w, NULL);
    text = cap_text(&c);
    printf("string NULL -> %s\n", text);
    TU_CHECK(!strcmp(text, "null"));
    free(text);
}

/* The text ps_json_number writes for v. */
static char *number_text(double v, int decimals) {
    capture c;
    cap_open(&c);
    ps_json_number(&c.w, v, decimals);
    return cap_text(&c);
}

typedef struct {
    double v;
    int decimals;
    const char *want;
} num_case;

static const num_case num_cases[] = {
    {0, 0, "0"}, {0, 2, "0.00"}, {0, 4, "0.0000"}, {7, 0, "7"},
    {3.14159, 2, "3.14"}, {3.14159, 4, "3.1416"}, {-1.23456, 2, "-1.23"},
    {-2.5, 0, "-2"}, {0.005, 2, "0.01"}, {1.005, 2, "1.00"}, {0.125, 2, "0.12"},
    {-0.001, 2, "-0.00"}, {123456.789, 4, "123456.7890"}, {0.0333667, 3, "0.033"},
    {1e15, 2, "1000000000000000.00"}, {-1e15, 0, "-1000000000000000"},
    {1e300, 2, "1.0000000000000001e+300"}, {-1e300, 4, "-1.0000000000000001e+300"},
};

/* Each case's exact text, and its parsed value within half a unit of the
 * last decimal (huge values exactly). */
static void test_numbers(void) {
    for (size_t i = 0; i < sizeof num_cases / sizeof *num_cases; i++) {
        const num_case *k = &num_cases[i];
        char *text = number_text(k->v, k->decimals);
        cJSON *j = cJSON_Parse(text);
        double off = j && cJSON_IsNumber(j) ? fabs(j->valuedouble - k->v) : INFINITY;
        double tol = fabs(k->v) >= 1e17 ? 0 : 0.5 * pow(10, -k->decimals) * (1 + 1e-9);
        int ok = !strcmp(text, k->want) && off <= tol;
        printf("number %-10.6g at %d: %-26s off by %.3g (tol %.3g) %s\n", k->v, k->decimals,
               text, off, tol, ok ? "ok" : "FAIL");
        TU_CHECK(ok);
        cJSON_Delete(j);
        free(text);
    }
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        char *text = number_text(bad[i], 2);
        printf("number %g -> %s\n", bad[i], text);
        TU_CHECK(!strcmp(text, "null"));
        free(text);
    }
}

/* The writer's own fixed-point formatting (used away from ties) against
 * printf's, on a million values of every magnitude the results carry,
 * exact ties and values a hair from them included. */
static void test_numbers_vs_printf(void) {
    unsigned long long seed = 42;
    int differ = 0, n = 0;
    for (int i = 0; i < 1000000; i++) {
        int d = i % 10;
        double scale = pow(10, (double)(i % 13) - 4), v = tu_randf(&seed, -1, 1) * scale;
        if (i % 7 == 0) v = (floor(v * pow(10, d)) + 0.5) / pow(10, d); /* a tie, or nearly */
        if (i % 11 == 0) v = nextafter(v, v > 0 ? INFINITY : -INFINITY);
        char *text = number_text(v, d), want[80];
        snprintf(want, sizeof want, "%.*f", d, v);
        if (strcmp(text, want) && differ++ < 5)
            printf("number %.17g at %d: %s, printf %s\n", v, d, text, want);
        free(text);
        n++;
    }
    printf("numbers against printf: %d of %d differ\n", differ, n);
    TU_CHECK(differ == 0);
}

static void test_scalars(void) {
    capture c;
    cap_open(&c);
    ps_json_array(&c.w);
    ps_json_int(&c.w, INT64_MIN);
    ps_json_int(&c.w, INT64_MAX);
    ps_json_uint(&c.w, UINT64_MAX);
    ps_json_bool(&c.w, 0);
    ps_json_bool(&c.w, 42);
    ps_json_null(&c.w);
    ps_json_array_end(&c.w);
    char *text = cap_text(&c);
    printf("scalars: %s\n", text);
    TU_CHECK(!strcmp(text, "[-9223372036854775808,9223372036854775807,18446744073709551615,"
                           "false,true,null]"));
    free(text);
}

/* Commas between siblings only: empty containers, containers as first and
 * later values, keys needing escapes. */
static void test_nesting(void) {
    capture c;
    cap_open(&c);
    ps_json *w = &c.w;
    ps_json_object(w);
    ps_json_key(w, "a");
    ps_json_array(w);
    ps_json_array(w);
    ps_json_array_end(w);
    ps_json_int(w, 1);
    ps_json_object(w);
    ps_json_object_end(w);
    ps_json_array(w);
    ps_json_int(w, 2);
    ps_json_object(w);
    ps_json_key_bool(w, "b", 1);
    ps_json_key_uint(w, "c", 3);
    ps_json_object_end(w);
    ps_json_array_end(w);
    ps_json_array_end(w);
    ps_json_key(w, "k\"\n");
    ps_json_object(w);
    ps_json_key_string(w, "d", "e");
    ps_json_key_number(w, "f", 1.5, 1);
    ps_json_key_int(w, "g", -4);
    ps_json_object_end(w);
    ps_json_object_end(w);
    int depth = w->depth;
    char *text = cap_text(&c);
    const char *want = "{\"a\":[[],1,{},[2,{\"b\":true,\"c\":3}]],\"k\\\"\\n\":{\"d\":\"e\","
                       "\"f\":1.5,\"g\":-4}}";
    cJSON *j = cJSON_Parse(text);
    printf("nested: %s (depth after %d) %s\n", text, depth, strcmp(text, want) ? "FAIL" : "ok");
    TU_CHECK(!strcmp(text, want) && depth == 0);
    TU_CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(j, "k\"\n")));
    cJSON_Delete(j);
    free(text);
}

/* n people with values from seed; pixels may be slightly negative, as a
 * keypoint outside the frame is. */
static void make_people(ps_person *p, int n, unsigned long long seed) {
    for (int i = 0; i < n; i++) {
        p[i].score = tu_randf(&seed, 0, 1);
        p[i].x0 = tu_randf(&seed, -3, 1000);
        p[i].y0 = tu_randf(&seed, -3, 1000);
        p[i].x1 = tu_randf(&seed, -3, 1000);
        p[i].y1 = tu_randf(&seed, -3, 1000);
        for (int k = 0; k < PS_NUM_KEYPOINTS; k++)
            p[i].kp[k] = (ps_keypoint){tu_randf(&seed, -3, 1000), tu_randf(&seed, -3, 1000),
                                       tu_randf(&seed, 0, 1)};
    }
}

static double worst_px, worst_score;

static double jnum(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void diff(double *worst, double got, double want) {
    double d = fabs(got - want);
    if (!(d <= *worst)) *worst = d;
}

/* The parsed "people" array against want, into worst_px and worst_score. */
static void compare_people(const cJSON *arr, const ps_person *want, int n) {
    TU_CHECK(cJSON_GetArraySize(arr) == n);
    for (int i = 0; i < n && i < cJSON_GetArraySize(arr); i++) {
        const cJSON *p = cJSON_GetArrayItem(arr, i);
        diff(&worst_score, jnum(p, "score"), want[i].score);
        const cJSON *box = cJSON_GetObjectItemCaseSensitive(p, "box");
        const float b[4] = {want[i].x0, want[i].y0, want[i].x1, want[i].y1};
        TU_CHECK(cJSON_GetArraySize(box) == 4);
        for (int k = 0; k < 4; k++) diff(&worst_px, cJSON_GetArrayItem(box, k)->valuedouble, b[k]);
        const cJSON *kps = cJSON_GetObjectItemCaseSensitive(p, "keypoints");
        TU_CHECK(cJSON_GetArraySize(kps) == PS_NUM_KEYPOINTS);
        for (int k = 0; k < PS_NUM_KEYPOINTS; k++) {
            const cJSON *kp = cJSON_GetArrayItem(kps, k);
            const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(kp, "name"));
            TU_CHECK(name && !strcmp(name, ps_keypoint_names[k]));
            diff(&worst_px, jnum(kp, "x"), want[i].kp[k].x);
            diff(&worst_px, jnum(kp, "y"), want[i].kp[k].y);
            diff(&worst_score, jnum(kp, "score"), want[i].kp[k].score);
        }
    }
}

/* ps_result_to_json into a buffer of its own length; freed by the caller. */
static char *result_text(const ps_result *r) {
    size_t n = ps_result_to_json(r, NULL, 0);
    char *s = malloc(n + 1);
    if (!s) TU_SKIP("out of memory");
    TU_CHECK(ps_result_to_json(r, s, n + 1) == n && strlen(s) == n);
    return s;
}

static void test_result(void) {
    ps_person people[2];
    make_people(people, 2, 7);
    const char *name = "cam \"1\"\n\\x";
    ps_result r = {.stream = 3, .name = name, .frame = 12345678901LL, .pts = 1.5,
                   .captured_ns = 1000000000, .output_ns = 1012345678, .width = 1920,
                   .height = 1080, .n_people = 2, .people = people};
    char *text = result_text(&r);
    cJSON *j = cJSON_Parse(text);
    TU_CHECK(j != NULL);
    const char *got = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "name"));
    TU_CHECK(got && !strcmp(got, name));
    TU_CHECK(jnum(j, "stream") == 3 && jnum(j, "frame") == 12345678901.0);
    TU_CHECK(jnum(j, "width") == 1920 && jnum(j, "height") == 1080);
    printf("result: pts %.3f (want 1.5), latency_ms %.2f (want 12.35)\n", jnum(j, "pts"),
           jnum(j, "latency_ms"));
    TU_CHECK(jnum(j, "pts") == 1.5 && jnum(j, "latency_ms") == 12.35);
    worst_px = worst_score = 0;
    compare_people(cJSON_GetObjectItemCaseSensitive(j, "people"), people, 2);
    printf("result: 2 people parsed back, pixels off by %.4f (tol 0.005), scores by %.6f "
           "(tol 0.00005)\n", worst_px, worst_score);
    TU_CHECK(worst_px <= 0.005 + 1e-9 && worst_score <= 0.00005 + 1e-9);
    const char *head = "{\"stream\":3,\"name\":\"cam \\\"1\\\"\\n\\\\x\",\"frame\":";
    TU_CHECK(!strncmp(text, head, strlen(head)));
    cJSON_Delete(j);
    free(text);
}

static void test_detection(void) {
    ps_person people[1];
    make_people(people, 1, 11);
    char buf[4096];
    size_t n = ps_detection_to_json("photo \xff.jpg", 640, 480, people, 1, buf, sizeof buf);
    cJSON *j = cJSON_Parse(buf);
    const char *image = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "image"));
    TU_CHECK(n == strlen(buf) && image && !strcmp(image, "photo \xef\xbf\xbd.jpg"));
    TU_CHECK(jnum(j, "width") == 640 && jnum(j, "height") == 480);
    worst_px = worst_score = 0;
    compare_people(cJSON_GetObjectItemCaseSensitive(j, "people"), people, 1);
    printf("detection: %zu bytes, pixels off by %.4f, scores by %.6f\n", n, worst_px,
           worst_score);
    TU_CHECK(worst_px <= 0.005 + 1e-9 && worst_score <= 0.00005 + 1e-9);
    cJSON_Delete(j);
    n = ps_detection_to_json("none", 1, 2, NULL, 0, buf, sizeof buf);
    printf("detection of nobody: %s\n", buf);
    TU_CHECK(!strcmp(buf, "{\"image\":\"none\",\"width\":1,\"height\":2,\"people\":[]}"));
    TU_CHECK(n == strlen(buf));
}

/* Too small a buffer: the full length returned, the prefix that fits
 * written and terminated, nothing past cap touched; cap 0 touches nothing. */
static void test_truncation(void) {
    ps_person people[2];
    make_people(people, 2, 5);
    ps_result r = {.name = "s", .frame = 1, .pts = 0.1, .output_ns = 1, .width = 64,
                   .height = 48, .n_people = 2, .people = people};
    char *full = result_text(&r);
    size_t len = strlen(full), caps[] = {1, 2, 10, len / 2, len, len + 1};
    char *buf = malloc(len + 2);
    if (!buf) TU_SKIP("out of memory");
    int ok = 1;
    for (size_t i = 0; i < sizeof caps / sizeof *caps; i++) {
        size_t cap = caps[i], keep = cap - 1 < len ? cap - 1 : len;
        memset(buf, 'Z', len + 2);
        ok &= ps_result_to_json(&r, buf, cap) == len && buf[keep] == '\0';
        ok &= !memcmp(buf, full, keep) && buf[cap] == 'Z';
    }
    memset(buf, 'Z', len + 2);
    ok &= ps_result_to_json(&r, buf, 0) == len && buf[0] == 'Z';
    printf("snprintf contract, %zu-byte text at caps 0, 1, 2, 10, %zu, %zu, %zu: %s\n", len,
           len / 2, len, len + 1, ok ? "ok" : "FAIL");
    TU_CHECK(ok);
    free(buf);
    free(full);
}

/* The line as results.c printed it with printf before json_out (commit
 * 74530a8), for a name that needs no escapes: its bytes must not change. */
static void printf_line(FILE *f, int stream, const char *name, const ps_frame *fr) {
    fprintf(f, "{\"stream\":%d,\"name\":\"%s\",\"frame\":%lld,\"pts\":%.3f,\"latency_ms\":%.2f,"
               "\"width\":%d,\"height\":%d,\"people\":[", stream, name, (long long)fr->index,
            fr->pts, (double)(fr->t.output - fr->t.captured) / 1e6, fr->width, fr->height);
    for (int i = 0; i < fr->n_people; i++) {
        const ps_person *p = &fr->people[i];
        fprintf(f, "%s{\"score\":%.4f,\"box\":[%.2f,%.2f,%.2f,%.2f],\"keypoints\":[", i ? "," : "",
                p->score, p->x0, p->y0, p->x1, p->y1);
        for (int k = 0; k < PS_NUM_KEYPOINTS; k++)
            fprintf(f, "%s{\"name\":\"%s\",\"x\":%.2f,\"y\":%.2f,\"score\":%.4f}", k ? "," : "",
                    ps_keypoint_names[k], p->kp[k].x, p->kp[k].y, p->kp[k].score);
        fputs("]}", f);
    }
    fputs("]}\n", f);
}

/* Frame i of a run: 0..6 people, pts at 30 fps plus jitter, latencies of
 * up to a second in nanoseconds. */
static void make_frame(ps_frame *fr, int i, unsigned long long *seed) {
    memset(fr, 0, sizeof *fr);
    fr->index = i;
    fr->pts = i / 30.0 + tu_randf(seed, 0, 0.01f);
    fr->width = 640 + i % 7;
    fr->height = 360;
    fr->t.captured = 1700000000000000000LL + (int64_t)i * 33366667;
    fr->t.output = fr->t.captured + (int64_t)(tu_randf(seed, 0, 1) * 1e9);
    fr->n_people = i % (PS_MAX_PEOPLE + 1);
    make_people(fr->people, fr->n_people, *seed + (unsigned long long)i);
}

/* 500 frames through ps_results into a file, against printf_line. */
static void test_results_file(void) {
    char path[] = "/tmp/test_json_out_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) TU_SKIP("mkstemp failed");
    close(fd);
    ps_err err;
    ps_results *res = ps_results_open(path, &err);
    TU_CHECK(res != NULL);
    capture want;
    cap_open(&want);
    unsigned long long seed = 99;
    for (int i = 0; res && i < 500; i++) {
        ps_frame fr;
        make_frame(&fr, i, &seed);
        ps_result r = {.stream = i % 3, .name = "cam-1", .frame = fr.index, .pts = fr.pts,
                       .captured_ns = fr.t.captured, .output_ns = fr.t.output,
                       .width = fr.width, .height = fr.height, .n_people = fr.n_people,
                       .people = fr.people};
        ps_results_write(res, &r);
        printf_line(want.f, i % 3, "cam-1", &fr);
    }
    TU_CHECK(ps_results_close(res, &err) == PS_OK);
    char *expect = cap_text(&want);
    size_t size = 0;
    char *got = tu_read_file(path, &size);
    size_t same = 0;
    while (got && same < size && got[same] == expect[same]) same++;
    printf("results file, 500 frames: %zu bytes, %zu expected, first difference at %zu\n", size,
           strlen(expect), same);
    TU_CHECK(got && size == strlen(expect) && same == size);
    free(got);
    free(expect);
    unlink(path);
}

/* Under the first of these locales installed, with ',' as decimal point:
 * the numbers and a whole results line as in the C locale. */
static void test_locale(void) {
    const char *names[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE"};
    locale_t loc = (locale_t)0;
    size_t i;
    for (i = 0; i < 3 && !loc; i++) loc = newlocale(LC_NUMERIC_MASK, names[i], (locale_t)0);
    if (!loc) {
        printf("locale: SKIPPED the ',' decimal point check: none of de_DE.UTF-8, fr_FR.UTF-8, "
               "de_DE is installed (`locale -a`; on Debian: apt-get install locales, then "
               "localedef -i de_DE -f UTF-8 de_DE.UTF-8)\n");
        return;
    }
    ps_person people[2];
    make_people(people, 2, 3);
    ps_result r = {.stream = 1, .name = "n", .frame = 2, .pts = 0.0333667, .captured_ns = 5,
                   .output_ns = 1234567, .width = 8, .height = 9, .n_people = 2,
                   .people = people};
    char *in_c = result_text(&r);
    uselocale(loc);
    char point[16];
    snprintf(point, sizeof point, "%s", localeconv()->decimal_point);
    char *a = number_text(-1234.5678, 3), *b = number_text(1e300, 2), *line = result_text(&r);
    uselocale(LC_GLOBAL_LOCALE);
    freelocale(loc);
    printf("locale %s: decimal point \"%s\"; -1234.5678 at 3 -> %s, 1e300 -> %s, results line "
           "%s\n", names[i - 1], point, a, b, strcmp(line, in_c) ? "DIFFERS" : "as in C");
    TU_CHECK(!strcmp(point, ","));
    TU_CHECK(!strcmp(a, "-1234.568") && !strcmp(b, "1.0000000000000001e+300"));
    TU_CHECK(!strcmp(line, in_c));
    free(a);
    free(b);
    free(line);
    free(in_c);
}

int main(void) {
    test_strings();
    test_numbers();
    test_numbers_vs_printf();
    test_scalars();
    test_nesting();
    test_result();
    test_detection();
    test_truncation();
    test_results_file();
    test_locale();
    return tu_finish("test_json_out");
}
