/* The people in one photograph, as JSON:
 *   detect_image IMAGE.jpg
 * Build: cc detect_image.c $(pkg-config --cflags --libs posestream) */
#include <posestream.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: %s IMAGE\n", argv[0]), 2;
    ps_err err;
    ps_image img;
    ps_model *model = ps_model_find(NULL, 1, &err); /* $POSESTREAM_MODEL_DIR or the cache */
    ps_engine_opts opts = {.backend = PS_BACKEND_AUTO, .max_batch = 1};
    ps_engine *engine = model ? ps_engine_create(model, &opts, &err) : NULL;
    int rc = !engine || ps_image_read(argv[1], &img, &err);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
    } else {
        ps_person people[PS_MAX_PEOPLE];
        int32_t n = 0;
        rc = ps_engine_detect(engine, &img, 1, 0.2f, &people, &n, &err) != PS_OK;
        char json[16384];
        if (rc) fprintf(stderr, "%s\n", err.msg);
        else if (ps_detection_to_json(argv[1], img.width, img.height, people, n, json, sizeof json) < sizeof json)
            printf("%s\n", json);
        ps_image_free(&img);
    }
    ps_engine_free(engine);
    ps_model_free(model);
    return rc;
}
