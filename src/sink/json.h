/* JSON output of people, shared by `detect` and the stream results. */
#ifndef PS_SINK_JSON_H
#define PS_SINK_JSON_H

#include <stdio.h>

#include "posestream.h"

/* Writes s as a JSON string literal (quoted, escaped). */
void ps_json_string(FILE *f, const char *s);

/* Writes [{"score":S,"box":[x0,y0,x1,y1],"keypoints":[{"name":..,"x":..,
 * "y":..,"score":..} x17]}, ...] for n people. */
void ps_json_people(FILE *f, const ps_person *people, int n);

#endif
