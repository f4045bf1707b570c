/* The public runtime (posestream.h) as an embedding program uses it, linked
 * against the shared library and nothing else of ours: set-up errors name
 * what was wrong, every processed frame reaches the callback exactly once
 * and the figures add up, priorities are summed, a bad stream fails alone,
 * the log callback gets FFmpeg's messages at the documented level and never
 * a GPU probe's. Needs the model; runs on the CPU when there is no GPU.
 * usage: test_runtime SAMPLES_DIR (a folder of photographs) */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "posestream.h"
#include "testutil.h"

/* What the log callback saw. */
static int ffmpeg_info, probe_warnings, above_level;
static ps_log_level level_set = PS_LOG_WARN;

static void on_log(ps_log_level level, const char *msg, void *user) {
    (void)user;
    if (level > level_set) above_level++;
    if (!strncmp(msg, "ffmpeg: ", 8) && level == PS_LOG_INFO) ffmpeg_info++;
    if (strstr(msg, "libcuda") && level <= PS_LOG_WARN) probe_warnings++;
}

/* Results per stream, and the JSON of each checked. */
typedef struct {
    int count[8];
    int bad_json;
    int out_of_order;
    int64_t last_frame[8];
} seen;

static void on_result(const ps_result *r, void *user) {
    seen *s = user;
    if (r->stream < 0 || r->stream >= 8) return;
    if (s->count[r->stream] && r->frame <= s->last_frame[r->stream]) s->out_of_order++;
    s->last_frame[r->stream] = r->frame;
    s->count[r->stream]++;
    char line[16384];
    size_t n = ps_result_to_json(r, line, sizeof line);
    cJSON *j = n < sizeof line ? cJSON_Parse(line) : NULL;
    cJSON *id = cJSON_GetObjectItem(j, "stream");
    if (!cJSON_IsNumber(id) || id->valueint != r->stream ||
        cJSON_GetArraySize(cJSON_GetObjectItem(j, "people")) != r->n_people)
        s->bad_json++;
    cJSON_Delete(j);
}

static void test_params(void) {
    ps_err err;
    ps_runtime_params p = ps_runtime_default_params();
    p.batch_max = 0;
    TU_CHECK(ps_runtime_create(&p, &err) == NULL && strstr(err.msg, "batch_max"));
    p = ps_runtime_default_params();
    const char *bad_gpus[] = {"0,0", "x", "0,", "16", ""};
    for (int k = 0; k < 5; k++) {
        p.gpus = bad_gpus[k];
        TU_CHECK(ps_runtime_create(&p, &err) == NULL && strstr(err.msg, "gpus"));
        fprintf(stderr, "gpus \"%s\": %s\n", bad_gpus[k], err.msg);
    }
    p = ps_runtime_default_params();
    p.failover = 2;
    TU_CHECK(ps_runtime_create(&p, &err) == NULL && strstr(err.msg, "failover"));
    p = ps_runtime_default_params();
    p.model = "/nonexistent/model";
    TU_CHECK(ps_runtime_create(&p, &err) == NULL && strstr(err.msg, "/nonexistent/model"));
    fprintf(stderr, "bad model: %s\n", err.msg);
    p = ps_runtime_default_params();
    p.output = "/proc/posestream-no/such.jsonl";
    TU_CHECK(ps_runtime_create(&p, &err) == NULL && strstr(err.msg, "/proc/posestream-no"));
    fprintf(stderr, "bad output: %s\n", err.msg);
    ps_stream_params *list;
    int32_t n;
    const char *bad = "[{\"uri\":\"a.mp4\",\"priority\":\"high\"}]";
    TU_CHECK(ps_stream_params_parse(bad, strlen(bad), "cams.json", &list, &n, &err) != PS_OK);
    TU_CHECK(list == NULL && strstr(err.msg, "cams.json") && strstr(err.msg, "priority"));
    const char *good = "[{\"uri\":\"a.mp4\",\"name\":\"door\",\"priority\":2,\"max_fps\":5}]";
    TU_CHECK(ps_stream_params_parse(good, strlen(good), "cams.json", &list, &n, &err) == PS_OK);
    TU_CHECK(n == 1 && !strcmp(list[0].name, "door") && list[0].priority == 2 &&
             list[0].max_fps == 5 && list[0].reconnect == -1);
    ps_stream_params_free(list, n);
    TU_CHECK(ps_stream_params_from_arg("rtsp://cam/x#priority=3,name=gate", &list, &err) == PS_OK);
    TU_CHECK(!strcmp(list[0].uri, "rtsp://cam/x") && list[0].priority == 3);
    ps_stream_params_free(list, 1);
}

/* Streams 0 and 1: the photographs (priorities 1 and 0), stream 2 a file
 * that is not a video. */
static ps_runtime *start(const char *samples, const char *junk, seen *s) {
    ps_err err;
    ps_runtime_params p = ps_runtime_default_params();
    p.on_result = on_result;
    p.user = s;
    ps_runtime *rt = ps_runtime_create(&p, &err);
    if (!rt) TU_SKIP("%s", err.msg);
    const char *uris[3] = {samples, samples, junk};
    for (int k = 0; k < 3; k++) {
        ps_stream_params sp = ps_stream_default_params();
        sp.uri = uris[k];
        sp.priority = k == 0;
        int32_t id = -1;
        TU_CHECK(ps_runtime_add_stream(rt, &sp, &id, &err) == PS_OK && id == k);
    }
    TU_CHECK(ps_runtime_start(rt, &err) == PS_OK);
    return rt;
}

static void check_figures(const ps_stats *st, const seen *s) {
    TU_CHECK(st->n_streams == 3);
    for (int k = 0; k < st->n_streams && k < 3; k++) {
        const ps_stream_stats *x = &st->streams[k];
        uint64_t sum = x->processed + x->dropped + x->late + x->skipped + x->cancelled + x->failed;
        fprintf(stderr, "stream %d %-8s %s: in %llu, processed %llu, callbacks %d, p99 %.1f ms %s\n",
                k, x->name, ps_stream_state_name(x->state), (unsigned long long)x->produced,
                (unsigned long long)x->processed, s->count[k], x->latency.p99_ms, x->error);
        TU_CHECK(x->produced == sum && (uint64_t)s->count[k] == x->processed);
    }
    TU_CHECK(st->streams[0].processed > 0 && st->streams[0].state == PS_STREAM_ENDED);
    TU_CHECK(st->streams[2].state == PS_STREAM_FAILED && strstr(st->streams[2].error, "junk"));
    TU_CHECK(st->n_priorities == 2 && st->priorities[0].priority == 1 &&
             st->priorities[1].priority == 0 && st->priorities[1].streams == 2);
    TU_CHECK(st->priorities[0].processed == st->streams[0].processed &&
             st->priorities[1].processed == st->streams[1].processed + st->streams[2].processed);
    TU_CHECK(st->backend[0] && st->input_w > 0 && st->batches > 0);
}

/* The report's JSON parses and says the same. */
static void check_report_json(const ps_stats *st) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ps_json w;
    ps_json_init(&w, f);
    ps_stats_json(&w, st);
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    cJSON *streams = cJSON_GetObjectItem(j, "streams");
    TU_CHECK(cJSON_GetArraySize(streams) == st->n_streams);
    cJSON *first = cJSON_GetArrayItem(streams, 0);
    TU_CHECK(cJSON_GetObjectItem(first, "processed") &&
             cJSON_GetObjectItem(first, "processed")->valuedouble == (double)st->streams[0].processed);
    TU_CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(streams, 2),
                                                              "state")), "failed"));
    cJSON_Delete(j);
    free(buf);
}

static void test_run(const char *samples) {
    /* an MP4 that stops after its first box: FFmpeg says "moov atom not
     * found" as an error */
    char junk[] = "/tmp/posestream-junk-XXXXXX";
    static const unsigned char ftyp[24] = {0, 0, 0, 24, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm',
                                           0, 0, 2, 0, 'i', 's', 'o', 'm', 'i', 's', 'o', '2'};
    int fd = mkstemp(junk);
    TU_CHECK(fd >= 0 && write(fd, ftyp, sizeof ftyp) == (ssize_t)sizeof ftyp);
    close(fd);
    seen s = {0};
    ps_runtime *rt = start(samples, junk, &s);
    TU_CHECK(ps_runtime_wait(rt, 120000) == 1);
    ps_err err;
    TU_CHECK(ps_runtime_remove_stream(rt, 99, &err) == PS_ERR_ARG);
    TU_CHECK(ps_runtime_close(rt, &err) == PS_OK);
    ps_stream_params sp = ps_stream_default_params();
    sp.uri = samples;
    TU_CHECK(ps_runtime_add_stream(rt, &sp, NULL, &err) != PS_OK); /* closed */
    ps_stats st;
    TU_CHECK(ps_runtime_stats(rt, &st, &err) == PS_OK);
    check_figures(&st, &s);
    check_report_json(&st);
    TU_CHECK(s.bad_json == 0 && s.out_of_order == 0);
    ps_stats_free(&st);
    ps_runtime_free(rt);
    unlink(junk);
}

int main(int argc, char **argv) {
    if (argc != 2) TU_SKIP("usage: test_runtime SAMPLES_DIR");
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", PS_VERSION_MAJOR, PS_VERSION_MINOR, PS_VERSION_PATCH);
    TU_CHECK(!strcmp(ps_version(), v));
    fprintf(stderr, "library %s, CUDA %s\n", ps_version(), ps_has_cuda() ? "built" : "not built");
    ps_log_set(on_log, NULL);
    test_params();
    level_set = PS_LOG_INFO; /* FFmpeg's errors on the junk file arrive as info */
    ps_log_set_level(level_set);
    test_run(argv[1]);
    fprintf(stderr, "log: %d FFmpeg messages at info, %d GPU-probe lines at warn or above, "
                    "%d above the level set\n", ffmpeg_info, probe_warnings, above_level);
    TU_CHECK(ffmpeg_info > 0 && probe_warnings == 0 && above_level == 0);
    ps_log_set(NULL, NULL);
    return tu_finish("test_runtime");
}
