/* JSON output of people (see json.h). Pixels get 2 decimals and scores 4:
 * finer digits are below what the model resolves. */
#include "sink/json.h"

void ps_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

void ps_json_people(FILE *f, const ps_person *people, int n) {
    fputc('[', f);
    for (int i = 0; i < n; i++) {
        const ps_person *p = &people[i];
        fprintf(f, "%s{\"score\":%.4f,\"box\":[%.2f,%.2f,%.2f,%.2f],\"keypoints\":[", i ? "," : "",
                p->score, p->x0, p->y0, p->x1, p->y1);
        for (int k = 0; k < PS_NUM_KEYPOINTS; k++)
            fprintf(f, "%s{\"name\":\"%s\",\"x\":%.2f,\"y\":%.2f,\"score\":%.4f}", k ? "," : "",
                    ps_keypoint_names[k], p->kp[k].x, p->kp[k].y, p->kp[k].score);
        fputs("]}", f);
    }
    fputc(']', f);
}
