/* Streams files and the quick command-line form (see stream_spec.h), with
 * cJSON for the file. */
#include "pipeline/stream_spec.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/status.h"

void ps_stream_name_of(const char *uri, char *out, size_t cap) {
    const char *end = uri + strcspn(uri, "?");
    while (end > uri && end[-1] == '/') end--;
    const char *start = end;
    while (start > uri && start[-1] != '/') start--;
    snprintf(out, cap, "%.*s", (int)(end - start), start);
    if (!out[0]) snprintf(out, cap, "%s", uri);
}

void ps_stream_spec_clear(ps_stream_spec *spec) {
    free(spec->uri);
    free(spec->name);
    free(spec->av_options);
    memset(spec, 0, sizeof *spec);
}

void ps_stream_specs_free(ps_stream_spec *specs, int n) {
    for (int k = 0; specs && k < n; k++) ps_stream_spec_clear(&specs[k]);
    free(specs);
}

/* A setting's value: priority a whole number, the others >= 0. */
static ps_status set_number(ps_stream_settings *set, const char *key, double v, ps_err *err) {
    if (!isfinite(v)) return ps_err_set(err, PS_ERR_ARG, "\"%s\": not a number", key);
    if (!strcmp(key, "priority")) {
        if (v != floor(v) || fabs(v) > 1000000)
            return ps_err_set(err, PS_ERR_ARG, "\"priority\": expected a whole number");
        set->priority = (int)v;
    } else if (v < 0) {
        return ps_err_set(err, PS_ERR_ARG, "\"%s\": expected a number >= 0 (0: none)", key);
    } else if (!strcmp(key, "max_latency_ms")) {
        set->max_latency_ms = v;
    } else {
        set->max_fps = v;
    }
    return PS_OK;
}

/* "gpu": the GPU number a stream is pinned to. */
static ps_status set_gpu(ps_stream_spec *spec, double v, ps_err *err) {
    if (!isfinite(v) || v != floor(v) || v < 0 || v >= PS_MAX_GPUS)
        return ps_err_set(err, PS_ERR_ARG, "\"gpu\": expected a GPU number, 0 to %d",
                          PS_MAX_GPUS - 1);
    spec->gpu_plus1 = (int)v + 1;
    return PS_OK;
}

/* "options": {"key": value, ...} -> "key=value,..." (strings and numbers). */
static ps_status options_text(const cJSON *o, char **out, ps_err *err) {
    size_t cap = 1, used = 0;
    for (const cJSON *it = o->child; it; it = it->next) cap += strlen(it->string) + 64 +
        (cJSON_IsString(it) ? strlen(it->valuestring) : 0);
    char *text = calloc(cap, 1);
    if (!text) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    for (const cJSON *it = o->child; it; it = it->next) {
        char num[48];
        if (cJSON_IsNumber(it)) snprintf(num, sizeof num, "%.17g", it->valuedouble);
        else if (!cJSON_IsString(it)) {
            free(text);
            return ps_err_set(err, PS_ERR_FORMAT, "\"options\": \"%.100s\" must be a string or "
                              "a number", it->string);
        }
        const char *v = cJSON_IsString(it) ? it->valuestring : num;
        if (strpbrk(it->string, "=,") || strchr(v, ',')) {
            free(text);
            return ps_err_set(err, PS_ERR_FORMAT, "\"options\": \"%.100s\": no '=' or ',' in "
                              "keys, no ',' in values", it->string);
        }
        used += (size_t)snprintf(text + used, cap - used, "%s%s=%s", used ? "," : "", it->string, v);
    }
    *out = text;
    return PS_OK;
}

static char *dup_or_null(const char *s) {
    return s ? strdup(s) : NULL;
}

/* One entry of the array. */
static ps_status parse_entry(const cJSON *e, ps_stream_spec *spec, ps_err *err) {
    if (!cJSON_IsObject(e)) return ps_err_set(err, PS_ERR_FORMAT, "not an object");
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(e, "uri");
    if (!cJSON_IsString(uri) || !uri->valuestring[0])
        return ps_err_set(err, PS_ERR_FORMAT, "\"uri\": missing or not a string");
    for (const cJSON *it = e->child; it; it = it->next) {
        const char *k = it->string;
        ps_status st = PS_OK;
        for (const cJSON *before = e->child; before != it; before = before->next)
            if (!strcmp(before->string, k))
                return ps_err_set(err, PS_ERR_FORMAT, "field \"%.100s\" given twice", k);
        if (!strcmp(k, "uri")) continue;
        if (!strcmp(k, "name")) {
            if (!cJSON_IsString(it)) return ps_err_set(err, PS_ERR_FORMAT, "\"name\": not a string");
            if (!(spec->name = dup_or_null(it->valuestring))) st = PS_ERR_NOMEM;
        } else if (!strcmp(k, "priority") || !strcmp(k, "max_latency_ms") || !strcmp(k, "max_fps")) {
            if (!cJSON_IsNumber(it)) return ps_err_set(err, PS_ERR_FORMAT, "\"%s\": not a number", k);
            st = set_number(&spec->settings, k, it->valuedouble, err);
        } else if (!strcmp(k, "gpu")) {
            if (!cJSON_IsNumber(it)) return ps_err_set(err, PS_ERR_FORMAT, "\"gpu\": not a number");
            st = set_gpu(spec, it->valuedouble, err);
        } else if (!strcmp(k, "options")) {
            if (!cJSON_IsObject(it)) return ps_err_set(err, PS_ERR_FORMAT, "\"options\": not an object");
            st = options_text(it, &spec->av_options, err);
        } else {
            return ps_err_set(err, PS_ERR_FORMAT, "unknown field \"%.100s\"", k);
        }
        if (st == PS_ERR_NOMEM) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
        if (st) return st;
    }
    if (!(spec->uri = strdup(uri->valuestring))) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    spec->settings.name = spec->name;
    return PS_OK;
}

ps_status ps_stream_specs_parse(const char *text, size_t len, const char *what,
                                ps_stream_spec **specs, int *n, ps_err *err) {
    *specs = NULL;
    *n = 0;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return ps_err_set(err, PS_ERR_FORMAT, "%s: not JSON", what);
    int count = cJSON_IsArray(root) ? cJSON_GetArraySize(root) : -1;
    ps_stream_spec *out = count > 0 ? calloc((size_t)count, sizeof *out) : NULL;
    ps_status st = count < 0    ? ps_err_set(err, PS_ERR_FORMAT, "%s: not a JSON array", what)
                   : count == 0 ? ps_err_set(err, PS_ERR_FORMAT, "%s: no streams", what)
                   : !out       ? ps_err_set(err, PS_ERR_NOMEM, "out of memory")
                                : PS_OK;
    for (int k = 0; k < count && !st; k++) {
        st = parse_entry(cJSON_GetArrayItem(root, k), &out[k], err);
        if (st) {
            char prefix[600];
            snprintf(prefix, sizeof prefix, "%.500s: stream %d", what, k);
            ps_err_prefix(err, prefix);
        }
    }
    cJSON_Delete(root);
    if (st) {
        ps_stream_specs_free(out, count);
        return st;
    }
    *specs = out;
    *n = count;
    return PS_OK;
}

ps_status ps_stream_spec_parse_one(const char *text, size_t len, const char *what,
                                   ps_stream_spec *spec, ps_err *err) {
    memset(spec, 0, sizeof *spec);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) return ps_err_set(err, PS_ERR_FORMAT, "%s: not JSON", what);
    ps_status st = parse_entry(root, spec, err);
    cJSON_Delete(root);
    if (st) {
        ps_stream_spec_clear(spec);
        ps_err_prefix(err, what);
    }
    return st;
}

/* key=value of the quick form into spec. */
static ps_status apply_pair(ps_stream_spec *spec, const char *key, const char *val, ps_err *err) {
    if (!strcmp(key, "name")) {
        free(spec->name);
        spec->name = strdup(val);
        return spec->name ? PS_OK : ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    }
    char *end;
    double v = strtod(val, &end);
    if (end == val || *end) return ps_err_set(err, PS_ERR_ARG, "\"%s\": \"%s\" is not a number", key, val);
    if (!strcmp(key, "gpu")) return set_gpu(spec, v, err);
    return set_number(&spec->settings, key, v, err);
}

static int known_key(const char *k, size_t n) {
    static const char *const keys[] = {"priority", "max_latency_ms", "max_fps", "name", "gpu"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (strlen(keys[i]) == n && !strncmp(k, keys[i], n)) return 1;
    return 0;
}

/* Whether tail ("k=v,k=v") is made of known keys only. */
static int is_settings(const char *tail) {
    for (const char *p = tail; *p;) {
        const char *eq = strchr(p, '=');
        if (!eq || !known_key(p, (size_t)(eq - p))) return 0;
        const char *comma = strchr(eq, ',');
        p = comma ? comma + 1 : eq + strlen(eq);
    }
    return *tail != 0;
}

static ps_status apply_settings(ps_stream_spec *spec, char *tail, ps_err *err) {
    for (char *save = NULL, *pair = strtok_r(tail, ",", &save); pair;
         pair = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(pair, '=');
        *eq = 0;
        ps_status st = apply_pair(spec, pair, eq + 1, err);
        if (st) return st;
    }
    return PS_OK;
}

ps_status ps_stream_spec_from_arg(const char *arg, ps_stream_spec *spec, ps_err *err) {
    memset(spec, 0, sizeof *spec);
    char *copy = strdup(arg);
    if (!copy) return ps_err_set(err, PS_ERR_NOMEM, "out of memory");
    char *hash = strrchr(copy, '#');
    ps_status st = PS_OK;
    if (hash && is_settings(hash + 1)) {
        *hash = 0;
        st = apply_settings(spec, hash + 1, err);
    }
    if (!st && !copy[0]) st = ps_err_set(err, PS_ERR_ARG, "\"%s\": no source before '#'", arg);
    if (st) {
        char prefix[600];
        snprintf(prefix, sizeof prefix, "%.500s", arg);
        ps_err_prefix(err, prefix);
        free(copy);
        ps_stream_spec_clear(spec);
        return st;
    }
    spec->uri = copy;
    spec->settings.name = spec->name;
    return PS_OK;
}
