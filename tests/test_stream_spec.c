/* Streams files and the quick "#key=value" form (src/pipeline/stream_spec.c):
 * every field read, FFmpeg options turned into "k=v,k=v", and every error
 * naming the file, the entry and the field. No model, no GPU. */
#include <string.h>

#include "pipeline/stream_spec.h"
#include "testutil.h"

static void test_file(void) {
    const char *text =
        "[{\"uri\":\"rtsp://cam/1\",\"name\":\"door\",\"priority\":2,\"max_latency_ms\":150,"
        "\"max_fps\":10,\"options\":{\"rtsp_transport\":\"udp\",\"stimeout\":5000000}},"
        " {\"uri\":\"clip.mp4\",\"gpu\":1}]";
    ps_stream_spec *s;
    int n;
    ps_err err;
    TU_CHECK(ps_stream_specs_parse(text, strlen(text), "streams.json", &s, &n, &err) == PS_OK);
    TU_CHECK(n == 2);
    if (n != 2) return;
    printf("stream 0: %s %s priority %d latency %.0f fps %.0f options %s\n", s[0].uri, s[0].name,
           s[0].settings.priority, s[0].settings.max_latency_ms, s[0].settings.max_fps,
           s[0].av_options);
    TU_CHECK(!strcmp(s[0].uri, "rtsp://cam/1") && !strcmp(s[0].name, "door"));
    TU_CHECK(s[0].settings.priority == 2 && s[0].settings.max_latency_ms == 150 &&
             s[0].settings.max_fps == 10 && s[0].settings.name == s[0].name);
    TU_CHECK(!strcmp(s[0].av_options, "rtsp_transport=udp,stimeout=5000000"));
    TU_CHECK(!strcmp(s[1].uri, "clip.mp4") && !s[1].name && !s[1].av_options &&
             s[1].settings.priority == 0);
    TU_CHECK(s[0].gpu_plus1 == 0 && s[1].gpu_plus1 == 2); /* unpinned; pinned to GPU 1 */
    ps_stream_specs_free(s, n);
}

/* text must fail with an error containing want. */
static void expect_error(const char *text, const char *want) {
    ps_stream_spec *s = (ps_stream_spec *)1;
    int n = -1;
    ps_err err = {0};
    ps_status st = ps_stream_specs_parse(text, strlen(text), "f.json", &s, &n, &err);
    printf("%-48s -> %s\n", text, err.msg);
    TU_CHECK(st != PS_OK && s == NULL && n == 0 && strstr(err.msg, want) != NULL);
}

static void test_file_errors(void) {
    expect_error("{", "f.json: not JSON");
    expect_error("{}", "not a JSON array");
    expect_error("[]", "no streams");
    expect_error("[{\"name\":\"x\"}]", "stream 0: \"uri\": missing");
    expect_error("[{\"uri\":\"a\"},{\"uri\":\"b\",\"priority\":\"high\"}]",
                 "stream 1: \"priority\": not a number");
    expect_error("[{\"uri\":\"a\",\"max_fps\":-1}]", "\"max_fps\": expected a number >= 0");
    expect_error("[{\"uri\":\"a\",\"priority\":1.5}]", "\"priority\": expected a whole number");
    expect_error("[{\"uri\":\"a\",\"prio\":1}]", "unknown field \"prio\"");
    expect_error("[{\"uri\":\"a\",\"gpu\":-1}]", "\"gpu\": expected a GPU number, 0 to 15");
    expect_error("[{\"uri\":\"a\",\"gpu\":\"0\"}]", "\"gpu\": not a number");
    expect_error("[{\"uri\":\"a\",\"name\":\"x\",\"name\":\"y\"}]", "field \"name\" given twice");
    expect_error("[{\"uri\":\"a\",\"options\":{\"k\":[1]}}]", "must be a string or a number");
    expect_error("[{\"uri\":\"a\",\"options\":{\"k\":\"x,y\"}}]", "no ',' in values");
}

static void test_arg(void) {
    ps_stream_spec s;
    ps_err err;
    TU_CHECK(ps_stream_spec_from_arg("rtsp://cam/live#priority=1,max_latency_ms=150,name=door", &s,
                                     &err) == PS_OK);
    TU_CHECK(!strcmp(s.uri, "rtsp://cam/live") && !strcmp(s.name, "door") &&
             s.settings.priority == 1 && s.settings.max_latency_ms == 150);
    ps_stream_spec_clear(&s);
    TU_CHECK(ps_stream_spec_from_arg("a.mp4#gpu=3", &s, &err) == PS_OK && s.gpu_plus1 == 4 &&
             !strcmp(s.uri, "a.mp4"));
    ps_stream_spec_clear(&s);
    TU_CHECK(ps_stream_spec_from_arg("a.mp4#gpu=1.5", &s, &err) == PS_ERR_ARG);
    /* a '#' not followed by settings belongs to the uri */
    TU_CHECK(ps_stream_spec_from_arg("clip#2.mp4", &s, &err) == PS_OK && !strcmp(s.uri, "clip#2.mp4"));
    ps_stream_spec_clear(&s);
    TU_CHECK(ps_stream_spec_from_arg("a.mp4#max_fps=x", &s, &err) == PS_ERR_ARG);
    printf("bad value: %s\n", err.msg);
    TU_CHECK(strstr(err.msg, "a.mp4#max_fps=x") && strstr(err.msg, "not a number"));
    TU_CHECK(ps_stream_spec_from_arg("#priority=1", &s, &err) == PS_ERR_ARG);
}

int main(void) {
    test_file();
    test_file_errors();
    test_arg();
    return tu_finish("test_stream_spec");
}
