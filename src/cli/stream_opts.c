/* Options shared by `run` and `bench` (see stream_opts.h). */
#include "cli/stream_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

const char cli_job_options_help[] =
    "  --model PATH          model folder or .json (default $POSESTREAM_MODEL_DIR,\n"
    "                        else ~/.cache/posestream)\n"
    "  --no-verify           skip the sha256 check of the model files\n"
    "  --backend NAME        auto, cuda or cpu (default auto: the GPU when one is\n"
    "                        usable, else the CPU, saying why)\n"
    "  --threads N           CPU threads for the engine (default: all cores)\n"
    "  --input-size N|WxH    network input, multiples of 32 (default: fits the\n"
    "                        streams, e.g. 256x192 for 4:3, 256x160 for 16:9)\n"
    "  --min-score S         leave out people scored under S (default 0.2)\n"
    "  --max-people K        people found per frame, 1 to 32 (default 6, as\n"
    "                        TensorFlow.js); more for crowds, at some decoding time\n"
    "  --batch-max N         frames per batch across streams (default 8)\n"
    "  --batch-timeout-ms MS while the engine is busy, send a partial batch\n"
    "                        this long after its first frame (default 50)\n"
    "  --ring N              frames buffered per stream (default 4); a live\n"
    "                        stream drops its oldest frame when its ring is full\n"
    "  --decode WHERE        auto, gpu or cpu: where video is decoded (default auto:\n"
    "                        NVDEC on the GPU when the CUDA backend runs and the\n"
    "                        codec allows, frames staying in GPU memory)\n"
    "  --max-vram-gb GB      refuse streams whose GPU decoding would pass this\n"
    "                        (default 11; per GPU)\n"
    "  --gpus LIST           the GPUs to run on, one engine each: all (default:\n"
    "                        every visible one, see CUDA_VISIBLE_DEVICES) or\n"
    "                        numbers, e.g. 0,1. Each stream is decoded and run on\n"
    "                        one: the least loaded (engine time and decoder use,\n"
    "                        measured) with room in its memory, or the one a\n"
    "                        source's #gpu=N or a streams file's \"gpu\" pins\n"
    "  --failover            when a GPU's engine cannot go on, add its streams\n"
    "                        again on the other GPUs (default: they end failed;\n"
    "                        the other GPUs' streams go on either way)\n"
    "  --max-host-gb GB      refuse streams whose host memory would pass this\n"
    "                        (default: none; the machine's available memory\n"
    "                        always counts)\n"
    "  --reconnect N         a network stream that ends or breaks reconnects up to\n"
    "                        N times in a row, waiting 0.5 s, 1 s, 2 s ... up to\n"
    "                        10 s (default -1: for ever; 0: never)\n"
    "  --av-opt K=V[,K=V]    FFmpeg options for every file/network source, e.g.\n"
    "                        rtsp_transport=tcp or rtsp_flags=listen\n"
    "  --no-track            no person ids (default: ids per stream, for video)\n"
    "  --track-by KIND       boxes (default: their IoU) or keypoints (object\n"
    "                        keypoint similarity)\n"
    "  --track-max-age-ms MS a person unseen this long gets a new id (default 1000)\n"
    "  --no-smooth           keypoints as detected (default: a One Euro filter per\n"
    "                        person, for video)\n"
    "  --smooth-min-cutoff HZ, --smooth-beta B  the filter's settings (2.5, 300;\n"
    "                        lower cut-off: smoother, more lag; higher beta: less\n"
    "                        lag when moving)\n"
    "  --annotate DIR        write each stream's video with the poses drawn on it\n"
    "                        to DIR/stream<ID>.mp4 (H.264; every frame, at the\n"
    "                        source's rate and size; frames not processed show\n"
    "                        the last poses)\n"
    "  --annotate-height H   draw on frames scaled to this height (default: the\n"
    "                        source's)\n"
    "  --snapshot-every S DIR  a JPEG of each stream, poses drawn, every S seconds\n"
    "                        of video: DIR/stream<ID>-<FRAME>.jpg\n"
    "  --mqtt URL            results to an MQTT broker too:\n"
    "                        mqtt://[user:pass@]host[:port]/prefix (mqtts:// for\n"
    "                        TLS); <prefix>/<stream>/poses per frame, a retained\n"
    "                        <prefix>/<stream>/state, <prefix>/status\n"
    "  --mqtt-ca FILE        mqtts: the CA certificates to trust\n"
    "  --mqtt-qos N          0 (default) or 1 for the poses messages\n"
    "  --mqtt-required       stop at the start when the broker is unreachable or\n"
    "                        refuses the login (default: go on without it, said)\n"
    "  --mqtt-queue N        messages held while the broker is slow or away\n"
    "                        (default 4096); beyond, the oldest go, counted\n"
    "  --log-level L         error, warn (default), info or debug: what the library\n"
    "                        and FFmpeg say on stderr (FFmpeg's errors are info)\n";

void cli_job_defaults(cli_stream_job *job) {
    memset(job, 0, sizeof *job);
    job->rt = ps_runtime_default_params();
    job->src = ps_stream_default_params();
    job->status = 1;
}

/* Parses an integer in [lo, hi]; prints an error naming the option if not. */
static int int_arg(const char *name, const char *arg, int lo, int hi, int *out) {
    char *end;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end || v < lo || v > hi) {
        char msg[200];
        snprintf(msg, sizeof msg, "--%s '%s': expected a whole number from %d to %d", name, arg, lo, hi);
        cli_fail(msg);
        return -1;
    }
    *out = (int)v;
    return 1;
}

/* --snapshot-every S DIR: S from getopt, DIR the next word (skipped). */
static int snapshot_option(cli_stream_job *job, const char *arg) {
    if (cli_parse_number("snapshot-every", arg, 0.001, 1e6, 0, &job->rt.annotate.snapshot_every_s))
        return -1;
    if (!job->argv || optind >= job->argc || job->argv[optind][0] == '-')
        return cli_fail("--snapshot-every S DIR: the folder is missing"), -1;
    job->rt.annotate.snapshot_dir = job->argv[optind++];
    return 1;
}

int cli_job_option(cli_stream_job *job, const char *name, const char *arg) {
    if (!strcmp(name, "model")) job->rt.model = arg;
    else if (!strcmp(name, "no-verify")) job->rt.verify_model = 0;
    else if (!strcmp(name, "threads")) return int_arg(name, arg, 1, 1024, &job->rt.engine.threads);
    else if (!strcmp(name, "max-people"))
        return int_arg(name, arg, 1, PS_MAX_PEOPLE, &job->rt.engine.max_people);
    else if (!strcmp(name, "annotate")) job->rt.annotate.video_dir = arg;
    else if (!strcmp(name, "annotate-height"))
        return int_arg(name, arg, 2, 8192, &job->rt.annotate.height);
    else if (!strcmp(name, "snapshot-every")) return snapshot_option(job, arg);
    else if (!strcmp(name, "mqtt")) job->rt.mqtt.url = arg;
    else if (!strcmp(name, "gpus")) job->rt.gpus = arg;
    else if (!strcmp(name, "failover")) job->rt.failover = 1;
    else if (!strcmp(name, "mqtt-ca")) job->rt.mqtt.ca_file = arg;
    else if (!strcmp(name, "mqtt-qos")) return int_arg(name, arg, 0, 1, &job->rt.mqtt.qos);
    else if (!strcmp(name, "mqtt-required")) job->rt.mqtt.required = 1;
    else if (!strcmp(name, "mqtt-queue")) return int_arg(name, arg, 1, 1000000, &job->rt.mqtt.queue);
    else if (!strcmp(name, "batch-max")) return int_arg(name, arg, 1, 1024, &job->rt.batch_max);
    else if (!strcmp(name, "batch-timeout-ms"))
        return int_arg(name, arg, 0, 60000, &job->rt.batch_timeout_ms);
    else if (!strcmp(name, "ring")) return int_arg(name, arg, 1, 1024, &job->rt.ring_size);
    else if (!strcmp(name, "input-size")) {
        if (cli_parse_size(arg, &job->rt.engine.input_w, &job->rt.engine.input_h)) return -1;
    }
    else if (!strcmp(name, "av-opt")) job->src.options = arg;
    else if (!strcmp(name, "reconnect")) return int_arg(name, arg, -1, 1000000, &job->src.reconnect);
    else if (!strcmp(name, "decode")) {
        if (!strcmp(arg, "auto")) job->rt.decode = PS_DECODE_AUTO;
        else if (!strcmp(arg, "gpu")) job->rt.decode = PS_DECODE_GPU;
        else if (!strcmp(arg, "cpu")) job->rt.decode = PS_DECODE_CPU;
        else {
            cli_fail("--decode: expected auto, gpu or cpu");
            return -1;
        }
    } else if (!strcmp(name, "max-vram-gb") || !strcmp(name, "max-host-gb")) {
        double *gb = name[4] == 'v' ? &job->rt.max_vram_gb : &job->rt.max_host_gb;
        if (cli_parse_number(name, arg, 0, 100000, 0, gb)) return -1;
    }
    else if (!strcmp(name, "backend")) {
        if (cli_parse_backend(arg, &job->rt.engine.backend)) return -1;
    } else if (!strcmp(name, "no-track") || !strcmp(name, "no-smooth")) {
        if (name[3] == 't') job->rt.track.enabled = 0;
        else job->rt.track.smooth = 0;
    } else if (!strcmp(name, "track-by")) {
        int keypoints = !strcmp(arg, "keypoints");
        if (!keypoints && strcmp(arg, "boxes")) return cli_fail("--track-by: expected boxes or keypoints"), -1;
        job->rt.track.kind = keypoints ? PS_TRACK_KEYPOINTS : PS_TRACK_BOXES;
        job->rt.track.min_similarity = keypoints ? 0.2 : 0.15;
    } else if (!strcmp(name, "track-max-age-ms") || !strcmp(name, "smooth-min-cutoff") ||
               !strcmp(name, "smooth-beta")) {
        double *v = name[0] == 't' ? &job->rt.track.max_age_ms
                    : name[7] == 'm' ? &job->rt.track.min_cutoff : &job->rt.track.beta;
        if (cli_parse_number(name, arg, 0, 1e7, name[7] == 'b', v)) return -1;
    } else if (!strcmp(name, "log-level")) {
        if (cli_parse_log_level(arg)) return -1;
    } else if (!strcmp(name, "min-score")) {
        double v;
        if (cli_parse_number(name, arg, 0, 1, 1, &v)) return -1;
        job->rt.min_score = (float)v;
    } else {
        return 0;
    }
    return 1;
}
