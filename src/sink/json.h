/* JSON output of people and results, shared by `detect`, the stream results
 * and the public ps_*_to_json functions; all of it through the
 * writer ps_json (util/json_out.c). */
#ifndef PS_SINK_JSON_H
#define PS_SINK_JSON_H

#include "posestream.h"

/* Writes [{"score":S,"box":[x0,y0,x1,y1],"keypoints":[{"name":..,"x":..,
 * "y":..,"score":..} x17]}, ...] for n people. */
void ps_json_people(ps_json *w, const ps_person *people, int n);

/* Writes the object of one results line (see ps_result_to_json). */
void ps_json_result(ps_json *w, const ps_result *r);

#endif
