/* The streaming JSON writer (ps_json in posestream.h). One "first" flag is enough for
 * the commas: a container that closes has just become a value of its parent,
 * so the parent is never at its first value again. */
#include "posestream.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void ps_json_init(ps_json *w, FILE *f) {
    *w = (ps_json){f, 0, 1, 0};
}

/* Starts a value: a comma first unless it opens its container or follows a
 * key. Top-level values get none (JSON lines are separated by the caller). */
static void begin_value(ps_json *w) {
    if (w->after_key) w->after_key = 0;
    else if (w->depth > 0 && !w->first) fputc(',', w->f);
    w->first = 0;
}

static void open_container(ps_json *w, char c) {
    begin_value(w);
    fputc(c, w->f);
    w->depth++;
    w->first = 1;
}

static void close_container(ps_json *w, char c) {
    fputc(c, w->f);
    w->depth--;
    w->first = 0;
}

void ps_json_object(ps_json *w) { open_container(w, '{'); }
void ps_json_object_end(ps_json *w) { close_container(w, '}'); }
void ps_json_array(ps_json *w) { open_container(w, '['); }
void ps_json_array_end(ps_json *w) { close_container(w, ']'); }

/* Length of the valid UTF-8 sequence of two to four bytes at p, or 0.
 * RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF. A NUL
 * is no continuation byte, so this never reads past the string's end. */
static int utf8_len(const unsigned char *p) {
    int n;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef) n = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4) n = 4;
    else return 0;
    unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
    if (p[0] == 0xe0) lo = 0xa0;
    else if (p[0] == 0xed) hi = 0x9f;
    else if (p[0] == 0xf0) lo = 0x90;
    else if (p[0] == 0xf4) hi = 0x8f;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return n;
}

/* One byte below 0x80, escaped where JSON needs it or a reader could
 * stumble on it (0x7f is legal raw but invisible). */
static void put_ascii(FILE *f, unsigned char c) {
    switch (c) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\b': fputs("\\b", f); break;
    case '\f': fputs("\\f", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    default:
        if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
}

/* s quoted and escaped; an invalid UTF-8 byte becomes U+FFFD, so that the
 * output stays valid whatever bytes a file name or stream name holds. */
static void put_string(FILE *f, const char *s) {
    fputc('"', f);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t run = 0; /* printable ASCII that needs no escape goes out as one write */
        while (p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\') run++;
        if (run) {
            fwrite(p, 1, run, f);
            p += run;
            continue;
        }
        int n = *p < 0x80 ? 1 : utf8_len(p);
        if (n == 0) {
            fputs("\\ufffd", f);
            n = 1;
        } else if (n == 1) {
            put_ascii(f, *p);
        } else {
            fwrite(p, 1, (size_t)n, f);
        }
        p += n;
    }
    fputc('"', f);
}

void ps_json_key(ps_json *w, const char *key) {
    begin_value(w);
    put_string(w->f, key);
    fputc(':', w->f);
    w->after_key = 1;
}

void ps_json_string(ps_json *w, const char *s) {
    if (!s) {
        ps_json_null(w);
        return;
    }
    begin_value(w);
    put_string(w->f, s);
}

/* Writes printf's text of a number with the locale's radix (one or more
 * bytes: what follows the sign and leading digits, up to the next digit)
 * as '.'. printf itself rounds exactly, which hand formatting through
 * v * 10^decimals would not; grouping needs the ' flag, never used here. */
static void put_number_text(FILE *f, const char *s) {
    size_t lead = (*s == '-') + strspn(s + (*s == '-'), "0123456789");
    fwrite(s, 1, lead, f);
    s += lead;
    if (*s && *s != 'e') {
        fputc('.', f);
        s += strcspn(s, "0123456789");
    }
    fputs(s, f);
}

/* printf's "%.*f" of v without printf, where that is sure to give the same
 * text: |v| * 10^d below 1e9 (so the product's rounding error, under 1.2e-7,
 * cannot move it across a tie) and not within 1e-6 of a tie (those are left
 * to printf, which rounds the exact binary value, ties to even). Writes buf
 * and returns 1, or returns 0. Results lines are mostly numbers; this is
 * several times faster than snprintf. */
static int fixed_fast(char *buf, double v, int d) {
    static const double p10[10] = {1, 10, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    double t = fabs(v) * p10[d];
    if (!(t < 1e9) || fabs(t - floor(t) - 0.5) < 1e-6) return 0;
    uint64_t u = (uint64_t)floor(t + 0.5);
    char digits[24];
    int n = 0;
    do digits[n++] = (char)('0' + u % 10), u /= 10;
    while (u || n <= d); /* at least one digit before the point */
    char *o = buf;
    if (signbit(v)) *o++ = '-';
    while (n > d) *o++ = digits[--n];
    if (d) *o++ = '.';
    while (n) *o++ = digits[--n];
    *o = '\0';
    return 1;
}

void ps_json_number(ps_json *w, double v, int decimals) {
    if (!isfinite(v)) {
        ps_json_null(w);
        return;
    }
    begin_value(w);
    decimals = decimals < 0 ? 0 : decimals > 9 ? 9 : decimals;
    /* at most 18 digits, a sign, the radix and 9 decimals; %.17g keeps huge
     * values (1e300 has 301 digits) short enough for any reader */
    char buf[64];
    if (fixed_fast(buf, v, decimals)) {
        fputs(buf, w->f);
        return;
    }
    if (fabs(v) < 1e17) snprintf(buf, sizeof buf, "%.*f", decimals, v);
    else snprintf(buf, sizeof buf, "%.17g", v);
    put_number_text(w->f, buf);
}

void ps_json_int(ps_json *w, int64_t v) {
    begin_value(w);
    fprintf(w->f, "%" PRId64, v);
}

void ps_json_uint(ps_json *w, uint64_t v) {
    begin_value(w);
    fprintf(w->f, "%" PRIu64, v);
}

void ps_json_bool(ps_json *w, int v) {
    begin_value(w);
    fputs(v ? "true" : "false", w->f);
}

void ps_json_null(ps_json *w) {
    begin_value(w);
    fputs("null", w->f);
}

void ps_json_key_string(ps_json *w, const char *k, const char *s) {
    ps_json_key(w, k);
    ps_json_string(w, s);
}

void ps_json_key_number(ps_json *w, const char *k, double v, int decimals) {
    ps_json_key(w, k);
    ps_json_number(w, v, decimals);
}

void ps_json_key_int(ps_json *w, const char *k, int64_t v) {
    ps_json_key(w, k);
    ps_json_int(w, v);
}

void ps_json_key_uint(ps_json *w, const char *k, uint64_t v) {
    ps_json_key(w, k);
    ps_json_uint(w, v);
}

void ps_json_key_bool(ps_json *w, const char *k, int v) {
    ps_json_key(w, k);
    ps_json_bool(w, v);
}
