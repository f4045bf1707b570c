/* Every person in every frame of every stream given, one line per frame:
 *   multi_stream VIDEO_OR_URL...
 * Build: cc multi_stream.c $(pkg-config --cflags --libs posestream) */
#include <posestream.h>
#include <stdio.h>

static void on_result(const ps_result *r, void *user) {
    (void)user;
    printf("%s frame %lld: %d people, %.1f ms\n", r->name, (long long)r->frame, r->n_people,
           (r->output_ns - r->captured_ns) / 1e6);
}

int main(int argc, char **argv) {
    ps_err err;
    ps_runtime_params p = ps_runtime_default_params();
    p.on_result = on_result;
    ps_runtime *rt = ps_runtime_create(&p, &err);
    for (int k = 1; rt && k < argc; k++) {
        ps_stream_params s = ps_stream_default_params();
        s.uri = argv[k];
        if (ps_runtime_add_stream(rt, &s, NULL, &err)) fprintf(stderr, "%s\n", err.msg);
    }
    if (!rt || ps_runtime_start(rt, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
    ps_runtime_wait(rt, -1);
    ps_stats st;
    if (!ps_runtime_close(rt, &err) && !ps_runtime_stats(rt, &st, &err)) {
        ps_stats_print_summary(stderr, &st);
        ps_stats_free(&st);
    }
    ps_runtime_free(rt);
    return 0;
}
