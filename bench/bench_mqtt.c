/* What publishing results to MQTT costs (issue 17's target): N streams at
 * F frames a second, each frame's results (six people) handed to the sink
 * on one thread as the engine thread does (ps_mqtt_poses: a copy; the sink
 * makes the JSON line on its own thread), for S seconds, to a broker at
 * URL. Prints the engine thread's cost per frame (p50/p99/max), the cores
 * the sink and libmosquitto's threads used (process CPU less the producing
 * thread's), and what was published and dropped.
 *
 *   bench_mqtt URL [--streams 100] [--fps 30] [--seconds 20]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "posestream.h"
#include "sink/mqtt.h"
#include "util/clock.h"

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double process_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Six people spread over a 1080p frame, as a results line would carry. */
static void make_people(ps_person *p, int64_t frame) {
    for (int i = 0; i < 6; i++) {
        float x = 150.0f + 300.0f * (float)i + (float)(frame % 50), y = 300.0f;
        p[i] = (ps_person){.score = 0.6f, .x0 = x - 60, .y0 = y - 200, .x1 = x + 60, .y1 = y + 200,
                           .id = i + 1};
        for (int k = 0; k < PS_NUM_KEYPOINTS; k++)
            p[i].kp[k] = (ps_keypoint){x + (float)(k * 3), y - 180 + (float)(k * 22), 0.7f};
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_mqtt URL [--streams N] [--fps F] [--seconds S]\n");
        return 2;
    }
    int streams = 100, seconds = 20;
    double fps = 30;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--streams")) streams = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fps")) fps = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atoi(argv[i + 1]);
    }
    ps_err err;
    ps_mqtt_params mp = {.url = argv[1], .required = 1};
    ps_mqtt *m = ps_mqtt_open(&mp, NULL, NULL, &err);
    if (!m) return fprintf(stderr, "bench_mqtt: %s\n", err.msg), 1;
    size_t total = (size_t)(streams * fps * seconds);
    double *cost = malloc(sizeof *cost * (total ? total : 1));
    ps_person people[6];
    char line[16384], names[256][32];
    for (int s = 0; s < streams && s < 256; s++) snprintf(names[s], sizeof names[s], "cam%d", s);
    double cpu0 = process_cpu_s(), mine0 = thread_cpu_s();
    int64_t t0 = ps_now_ns();
    size_t n = 0;
    for (int64_t tick = 0; n < total; tick++) { /* one tick: a frame of every stream */
        ps_sleep_until_ns(t0 + (int64_t)(tick * 1e9 / fps));
        for (int s = 0; s < streams && n < total; s++, n++) {
            int64_t a = ps_now_ns();
            make_people(people, tick);
            ps_result r = {.stream = s, .name = names[s % 256], .frame = tick, .pts = tick / fps,
                           .captured_ns = a, .output_ns = a, .width = 1920, .height = 1080,
                           .n_people = 6, .people = people};
            ps_mqtt_poses(m, &r);
            cost[n] = (double)(ps_now_ns() - a) / 1e3;
        }
    }
    double wall = (double)(ps_now_ns() - t0) / 1e9;
    double mine = thread_cpu_s() - mine0, all = process_cpu_s() - cpu0;
    ps_mqtt_stop(m);
    uint64_t published, dropped, outages;
    ps_mqtt_totals(m, &published, &dropped, &outages);
    qsort(cost, n, sizeof *cost, cmp_double);
    ps_result one = {.stream = 0, .name = names[0], .width = 1920, .height = 1080, .n_people = 6,
                     .people = people};
    printf("%d streams x %.0f fps for %.1f s: %zu messages (%zu bytes each)\n", streams, fps, wall,
           n, ps_result_to_json(&one, line, sizeof line));
    printf("engine thread per frame (a copy into the queue): p50 %.1f us, p99 %.1f us, "
           "max %.1f us\n",
           cost[n / 2], cost[(size_t)(0.99 * (double)(n - 1))], cost[n - 1]);
    printf("sink and libmosquitto threads: %.3f cores (the producing thread: %.3f)\n",
           (all - mine) / wall, mine / wall);
    printf("published %llu, dropped %llu, outages %llu\n", (unsigned long long)published,
           (unsigned long long)dropped, (unsigned long long)outages);
    ps_mqtt_close(m);
    free(cost);
    return 0;
}
