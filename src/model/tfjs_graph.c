/* TF.js graph model -> ps_net. Walks the TensorFlow NodeDefs backwards from
 * the six heads, turning each op into a layer (or a normalisation step of the
 * input), then fuses activations and residual adds into the convolutions that
 * feed them. An op this reader does not know is an error naming the node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/net.h"
#include "model/tfjs.h"
#include "util/file.h"
#include "util/status.h"

#define PS_JSON_MAX (64u << 20)
#define PS_MAX_LAYERS 1024
#define PS_NODE_PREFIX "StatefulPartitionedCall/"

const char *const ps_head_nodes[PS_NUM_HEADS] = {
    PS_NODE_PREFIX "Sigmoid",
    PS_NODE_PREFIX "Sigmoid_1",
    PS_NODE_PREFIX "kpt_regress_0/conv2d_8/BiasAdd",
    PS_NODE_PREFIX "kpt_offset_0/conv2d_9/BiasAdd",
    PS_NODE_PREFIX "box_scale_0/conv2d_5/BiasAdd",
    PS_NODE_PREFIX "box_offset_0/conv2d_6/BiasAdd",
};
const int ps_head_channels[PS_NUM_HEADS] = {1, 17, 34, 34, 2, 2};

typedef struct {
    const char *path;
    const cJSON **nodes;
    int n_nodes;
    int *layer_of;  /* per node: layer index, -1 unvisited, -2 in progress */
    ps_consts consts;
    ps_net *net;
    int input;      /* layer index of the INPUT layer, -1 until seen */
    ps_err *err;
} ps_reader;

static const char *node_name(const cJSON *n) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(n, "name");
    return cJSON_IsString(s) ? s->valuestring : "";
}

static const char *node_op(const cJSON *n) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(n, "op");
    return cJSON_IsString(s) ? s->valuestring : "";
}

/* Index of the node called name (an input reference "x:0" or "^x" accepted),
 * or -1. */
static int find_node(const ps_reader *r, const char *ref) {
    if (ref[0] == '^') ref++;
    size_t len = strcspn(ref, ":");
    for (int k = 0; k < r->n_nodes; k++) {
        const char *nm = node_name(r->nodes[k]);
        if (strlen(nm) == len && !strncmp(nm, ref, len)) return k;
    }
    return -1;
}

static const char *input_ref(const cJSON *node, int i) {
    const cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(node, "input"), i);
    return cJSON_IsString(in) ? in->valuestring : NULL;
}

static int n_inputs(const cJSON *node) {
    int n = 0;
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(node, "input"))
        if (cJSON_IsString(in) && in->valuestring[0] != '^') n++;
    return n;
}

/* Decodes base64 src into out (NUL-terminated, at most cap-1 bytes). */
static void base64_decode(const char *src, char *out, size_t cap) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (; *src && *src != '='; src++) {
        const char *p = strchr(tab, *src);
        if (!p) break;
        acc = (acc << 6) | (unsigned)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 < cap) out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = 0;
}

static const cJSON *attr(const cJSON *node, const char *key) {
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "attr"), key);
}

/* A string attribute (base64 in the JSON), decoded; "" when absent. */
static void attr_string(const cJSON *node, const char *key, char *out, size_t cap) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(attr(node, key), "s");
    out[0] = 0;
    if (cJSON_IsString(s)) base64_decode(s->valuestring, out, cap);
}

static int attr_bool(const cJSON *node, const char *key) {
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(attr(node, key), "b"));
}

/* The i-th entry of a list-of-ints attribute (TF.js writes ints as strings). */
static int attr_list_int(const cJSON *node, const char *key, int i, int dflt) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(attr(node, key), "list");
    const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(list, "i"), i);
    if (cJSON_IsString(v)) return atoi(v->valuestring);
    if (cJSON_IsNumber(v)) return v->valueint;
    return dflt;
}

static ps_status bad_node(ps_reader *r, const cJSON *node, ps_status code, const char *why) {
    return ps_err_set(r->err, code, "%s: node '%s' (op %s): %s", r->path, node_name(node),
                      node_op(node), why);
}

static ps_status visit(ps_reader *r, int k, int *out);

/* Resolves input i of node to a layer index. */
static ps_status visit_input(ps_reader *r, const cJSON *node, int i, int *out) {
    const char *ref = input_ref(node, i);
    int k = ref ? find_node(r, ref) : -1;
    if (k < 0) return bad_node(r, node, PS_ERR_FORMAT, "input missing from the graph");
    if (strchr(ref, ':') && strcmp(strchr(ref, ':'), ":0"))
        return bad_node(r, node, PS_ERR_UNSUPPORTED, "reads a second output of another node");
    return visit(r, k, out);
}

/* The constant feeding input i of node, or NULL (error set). */
static const ps_const *const_input(ps_reader *r, const cJSON *node, int i) {
    const char *ref = input_ref(node, i);
    int k = ref ? find_node(r, ref) : -1;
    const ps_const *c = NULL;
    if (k >= 0 && !strcmp(node_op(r->nodes[k]), "Const"))
        c = ps_consts_find(&r->consts, node_name(r->nodes[k]));
    if (!c || c->dtype != PS_DT_FLOAT)
        bad_node(r, node, PS_ERR_FORMAT, "expected a float constant input");
    return c;
}

static int is_const_input(const ps_reader *r, const cJSON *node, int i) {
    const char *ref = input_ref(node, i);
    int k = ref ? find_node(r, ref) : -1;
    return k >= 0 && !strcmp(node_op(r->nodes[k]), "Const");
}

static ps_status add_layer(ps_reader *r, const cJSON *node, ps_layer_kind kind, int src,
                           int *out) {
    ps_net *net = r->net;
    if (net->n_layers >= PS_MAX_LAYERS)
        return bad_node(r, node, PS_ERR_UNSUPPORTED, "too many layers");
    ps_layer *l = &net->layers[net->n_layers];
    memset(l, 0, sizeof *l);
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", node_name(node));
    l->src = src;
    l->src2 = -1;
    l->stride = 1;
    *out = net->n_layers++;
    return PS_OK;
}

/* Sub/Mul/Add of the image by a scalar or per-channel constant: a step of the
 * input normalisation. */
static ps_status visit_norm(ps_reader *r, const cJSON *node, ps_norm_op op, int *out) {
    int x;
    int ci = is_const_input(r, node, 0) ? 0 : 1;
    if (op == PS_NORM_SUB && ci == 0)
        return bad_node(r, node, PS_ERR_UNSUPPORTED, "constant minus image is not supported");
    ps_status st = visit_input(r, node, 1 - ci, &x);
    if (st) return st;
    if (x != r->input || r->net->n_layers != 1)
        return bad_node(r, node, PS_ERR_UNSUPPORTED,
                        "elementwise op with a constant is only supported on the input");
    const ps_const *c = const_input(r, node, ci);
    if (!c) return r->err->code;
    if (c->count != 1 && c->count != 3)
        return bad_node(r, node, PS_ERR_UNSUPPORTED, "constant must be a scalar or per channel");
    if (r->net->n_norm >= PS_MAX_NORM)
        return bad_node(r, node, PS_ERR_UNSUPPORTED, "too many normalisation steps");
    ps_norm_step *s = &r->net->norm[r->net->n_norm++];
    s->op = op;
    for (int ch = 0; ch < 3; ch++) s->c[ch] = c->f[c->count == 3 ? ch : 0];
    *out = x;
    return PS_OK;
}

/* Reads fused_ops ("BiasAdd" then at most one of "Relu", "Relu6"). */
static ps_status parse_fused_ops(ps_reader *r, const cJSON *node, ps_act *act) {
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(attr(node, "fused_ops"), "list");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(list, "s");
    int i = 0;
    const cJSON *item;
    *act = PS_ACT_NONE;
    cJSON_ArrayForEach(item, s) {
        char op[64];
        base64_decode(cJSON_IsString(item) ? item->valuestring : "", op, sizeof op);
        if (i == 0 && !strcmp(op, "BiasAdd")) { i++; continue; }
        if (i == 1 && !strcmp(op, "Relu")) *act = PS_ACT_RELU;
        else if (i == 1 && !strcmp(op, "Relu6")) *act = PS_ACT_RELU6;
        else return bad_node(r, node, PS_ERR_UNSUPPORTED, "fused op other than BiasAdd+Relu/Relu6");
        i++;
    }
    if (i == 0) return bad_node(r, node, PS_ERR_UNSUPPORTED, "fused ops without BiasAdd");
    return PS_OK;
}

/* Checks data format, dilations, strides and padding of a convolution. */
static ps_status parse_conv_attrs(ps_reader *r, const cJSON *node, ps_layer *l) {
    char s[32];
    attr_string(node, "data_format", s, sizeof s);
    if (s[0] && strcmp(s, "NHWC")) return bad_node(r, node, PS_ERR_UNSUPPORTED, "data format is not NHWC");
    for (int i = 0; i < 4; i++)
        if (attr_list_int(node, "dilations", i, 1) != 1)
            return bad_node(r, node, PS_ERR_UNSUPPORTED, "dilated convolution");
    int sh = attr_list_int(node, "strides", 1, 1), sw = attr_list_int(node, "strides", 2, 1);
    if (sh != sw || sh < 1 || sh > 4 || attr_list_int(node, "strides", 0, 1) != 1)
        return bad_node(r, node, PS_ERR_UNSUPPORTED, "strides must be equal in H and W");
    l->stride = sh;
    attr_string(node, "padding", s, sizeof s);
    if (!strcmp(s, "SAME")) l->pad = PS_PAD_SAME;
    else if (!strcmp(s, "VALID")) l->pad = PS_PAD_VALID;
    else return bad_node(r, node, PS_ERR_UNSUPPORTED, "padding is not SAME or VALID");
    return PS_OK;
}

static ps_status visit_conv(ps_reader *r, const cJSON *node, int depthwise, int fused, int *out) {
    int x;
    ps_status st = visit_input(r, node, 0, &x);
    if (st) return st;
    if (n_inputs(node) != (fused ? 3 : 2))
        return bad_node(r, node, PS_ERR_UNSUPPORTED, "unexpected number of inputs");
    const ps_const *w = const_input(r, node, 1);
    const ps_const *b = fused ? const_input(r, node, 2) : NULL;
    if (!w || (fused && !b)) return r->err->code;
    if (w->ndims != 4 || (depthwise && w->dims[3] != 1) || w->dims[0] > 7 || w->dims[1] > 7)
        return bad_node(r, node, PS_ERR_UNSUPPORTED, "filter shape not supported");
    int cout = depthwise ? w->dims[2] : w->dims[3];
    if (b && (int)b->count != cout) return bad_node(r, node, PS_ERR_FORMAT, "bias size mismatch");
    ps_act act = PS_ACT_NONE;
    if (fused && (st = parse_fused_ops(r, node, &act))) return st;
    st = add_layer(r, node, depthwise ? PS_LAYER_DWCONV : PS_LAYER_CONV, x, out);
    if (st) return st;
    ps_layer *l = &r->net->layers[*out];
    l->kh = w->dims[0];
    l->kw = w->dims[1];
    l->cin = w->dims[2];
    l->cout = cout;
    l->w = w->f;
    l->b = b ? b->f : NULL;
    l->act = act;
    return parse_conv_attrs(r, node, l);
}

/* ResizeBilinear whose size is the input's own H, W times a constant: the
 * graph computes it as Mul(StridedSlice(Shape(x)), Const). */
static ps_status visit_resize(ps_reader *r, const cJSON *node, int *out) {
    if (attr_bool(node, "align_corners") || !attr_bool(node, "half_pixel_centers"))
        return bad_node(r, node, PS_ERR_UNSUPPORTED, "only half_pixel_centers resizing is supported");
    int size_k = input_ref(node, 1) ? find_node(r, input_ref(node, 1)) : -1;
    const cJSON *mul = size_k >= 0 ? r->nodes[size_k] : NULL;
    int f0 = 0, f1 = 0;
    if (mul && !strcmp(node_op(mul), "Mul")) {
        int ck = find_node(r, input_ref(mul, 1) ? input_ref(mul, 1) : "");
        const ps_const *c = ck >= 0 ? ps_consts_find(&r->consts, node_name(r->nodes[ck])) : NULL;
        if (c && c->dtype == PS_DT_INT32 && c->count == 2) {
            f0 = c->i[0];
            f1 = c->i[1];
        }
    }
    if (f0 != f1 || f0 < 1 || f0 > 8)
        return bad_node(r, node, PS_ERR_UNSUPPORTED,
                        "size must be the input size times one integer factor");
    int x;
    ps_status st = visit_input(r, node, 0, &x);
    if (!st) st = add_layer(r, node, PS_LAYER_RESIZE, x, out);
    if (!st) r->net->layers[*out].factor = f0;
    return st;
}

static ps_status visit_add(ps_reader *r, const cJSON *node, int *out) {
    if (is_const_input(r, node, 0) || is_const_input(r, node, 1))
        return visit_norm(r, node, PS_NORM_ADD, out);
    int a, b;
    ps_status st = visit_input(r, node, 0, &a);
    if (!st) st = visit_input(r, node, 1, &b);
    if (!st) st = add_layer(r, node, PS_LAYER_ADD, a, out);
    if (!st) r->net->layers[*out].src2 = b;
    return st;
}

static ps_status visit_act(ps_reader *r, const cJSON *node, ps_act act, int *out) {
    int x;
    ps_status st = visit_input(r, node, 0, &x);
    if (!st) st = add_layer(r, node, PS_LAYER_ACT, x, out);
    if (!st) r->net->layers[*out].act = act;
    return st;
}

static ps_status visit_op(ps_reader *r, const cJSON *node, int *out) {
    const char *op = node_op(node);
    if (!strcmp(op, "Placeholder")) {
        if (r->input >= 0) return bad_node(r, node, PS_ERR_UNSUPPORTED, "more than one input");
        ps_status st = add_layer(r, node, PS_LAYER_INPUT, -1, out);
        if (!st) r->input = *out;
        return st;
    }
    if (!strcmp(op, "Cast") || !strcmp(op, "Identity")) return visit_input(r, node, 0, out);
    if (!strcmp(op, "Sub")) return visit_norm(r, node, PS_NORM_SUB, out);
    if (!strcmp(op, "Mul")) return visit_norm(r, node, PS_NORM_MUL, out);
    if (!strcmp(op, "AddV2") || !strcmp(op, "Add")) return visit_add(r, node, out);
    if (!strcmp(op, "_FusedConv2D")) return visit_conv(r, node, 0, 1, out);
    if (!strcmp(op, "Conv2D")) return visit_conv(r, node, 0, 0, out);
    if (!strcmp(op, "FusedDepthwiseConv2dNative")) return visit_conv(r, node, 1, 1, out);
    if (!strcmp(op, "DepthwiseConv2dNative")) return visit_conv(r, node, 1, 0, out);
    if (!strcmp(op, "ResizeBilinear")) return visit_resize(r, node, out);
    if (!strcmp(op, "Sigmoid")) return visit_act(r, node, PS_ACT_SIGMOID, out);
    if (!strcmp(op, "Relu")) return visit_act(r, node, PS_ACT_RELU, out);
    if (!strcmp(op, "Relu6")) return visit_act(r, node, PS_ACT_RELU6, out);
    return bad_node(r, node, PS_ERR_UNSUPPORTED, "op not supported by the engine");
}

/* Depth-first: a node's layer is added after the layers of its inputs. */
static ps_status visit(ps_reader *r, int k, int *out) {
    if (r->layer_of[k] == -2)
        return bad_node(r, r->nodes[k], PS_ERR_FORMAT, "the graph has a cycle");
    if (r->layer_of[k] >= 0) {
        *out = r->layer_of[k];
        return PS_OK;
    }
    r->layer_of[k] = -2;
    ps_status st = visit_op(r, r->nodes[k], out);
    r->layer_of[k] = st ? -1 : *out;
    return st;
}

/* Counts how many layers (and heads) read each layer. */
static void count_uses(const ps_net *net, int *uses) {
    memset(uses, 0, sizeof(int) * (size_t)net->n_layers);
    for (int i = 0; i < net->n_layers; i++) {
        if (net->layers[i].src >= 0) uses[net->layers[i].src]++;
        if (net->layers[i].src2 >= 0) uses[net->layers[i].src2]++;
    }
    for (int h = 0; h < PS_NUM_HEADS; h++) uses[net->heads[h]]++;
}

static int is_conv(const ps_layer *l) {
    return l->kind == PS_LAYER_CONV || l->kind == PS_LAYER_DWCONV;
}

/* Moves conv layer c into slot at (an ACT or ADD reading only it) and marks
 * slot c dead: the fused layer then sits after every input it reads. */
static void fuse_into(ps_net *net, int c, int at, int residual, ps_act act) {
    ps_layer fused = net->layers[c];
    snprintf(fused.name, sizeof fused.name, "%s", net->layers[at].name);
    if (residual >= 0) fused.src2 = residual;
    if (act != PS_ACT_NONE) fused.act = act;
    net->layers[at] = fused;
    net->layers[c].kind = PS_LAYER_ACT;
    net->layers[c].src = -2; /* dead */
}

/* Folds activations and residual adds into the convolution before them when
 * that convolution has no other reader. */
static void fuse_layers(ps_net *net, int *uses) {
    count_uses(net, uses);
    for (int i = 0; i < net->n_layers; i++) {
        ps_layer *l = &net->layers[i];
        if (l->kind == PS_LAYER_ACT && l->src >= 0) {
            ps_layer *c = &net->layers[l->src];
            if (is_conv(c) && c->act == PS_ACT_NONE && c->src2 < 0 && uses[l->src] == 1)
                fuse_into(net, l->src, i, -1, l->act);
        } else if (l->kind == PS_LAYER_ADD) {
            int a = l->src, b = l->src2;
            int c = (is_conv(&net->layers[b]) && uses[b] == 1 && net->layers[b].src2 < 0) ? b
                  : (is_conv(&net->layers[a]) && uses[a] == 1 && net->layers[a].src2 < 0) ? a : -1;
            if (c >= 0) fuse_into(net, c, i, c == b ? a : b, PS_ACT_NONE);
        }
    }
}

/* Drops dead slots and renumbers every reference. */
static void compact_layers(ps_net *net, int *map) {
    int n = 0;
    for (int i = 0; i < net->n_layers; i++) {
        map[i] = net->layers[i].src == -2 ? -1 : n;
        if (map[i] >= 0) net->layers[n++] = net->layers[i];
    }
    for (int i = 0; i < n; i++) {
        ps_layer *l = &net->layers[i];
        if (l->src >= 0) l->src = map[l->src];
        if (l->src2 >= 0) l->src2 = map[l->src2];
    }
    for (int h = 0; h < PS_NUM_HEADS; h++) net->heads[h] = map[net->heads[h]];
    net->n_layers = n;
}

static ps_status build_net(ps_reader *r) {
    ps_net *net = r->net;
    net->layers = calloc(PS_MAX_LAYERS, sizeof *net->layers);
    r->layer_of = malloc(sizeof(int) * (size_t)r->n_nodes);
    if (!net->layers || !r->layer_of) return ps_err_set(r->err, PS_ERR_NOMEM, "out of memory");
    for (int k = 0; k < r->n_nodes; k++) r->layer_of[k] = -1;
    for (int h = 0; h < PS_NUM_HEADS; h++) {
        int k = find_node(r, ps_head_nodes[h]);
        if (k < 0)
            return ps_err_set(r->err, PS_ERR_FORMAT,
                              "%s: no node '%s' (not a MoveNet MultiPose model?)", r->path,
                              ps_head_nodes[h]);
        ps_status st = visit(r, k, &net->heads[h]);
        if (st) return st;
    }
    if (r->input < 0) return ps_err_set(r->err, PS_ERR_FORMAT, "%s: the heads do not depend on an input", r->path);
    int *scratch = malloc(sizeof(int) * (size_t)net->n_layers);
    if (!scratch) return ps_err_set(r->err, PS_ERR_NOMEM, "out of memory");
    fuse_layers(net, scratch);
    compact_layers(net, scratch);
    free(scratch);
    return PS_OK;
}

/* Checks the top-level structure and collects the node array. */
static ps_status read_topology(ps_reader *r, const cJSON *root) {
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(format) || strcmp(format->valuestring, "graph-model"))
        return ps_err_set(r->err, PS_ERR_FORMAT, "%s: format '%s' is not a TF.js graph-model",
                          r->path, cJSON_IsString(format) ? format->valuestring : "(none)");
    const cJSON *topo = cJSON_GetObjectItemCaseSensitive(root, "modelTopology");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(topo, "node");
    if (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) == 0)
        return ps_err_set(r->err, PS_ERR_FORMAT, "%s: no modelTopology.node array", r->path);
    r->n_nodes = cJSON_GetArraySize(nodes);
    r->nodes = malloc(sizeof *r->nodes * (size_t)r->n_nodes);
    if (!r->nodes) return ps_err_set(r->err, PS_ERR_NOMEM, "out of memory");
    int k = 0;
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes) r->nodes[k++] = n;
    return PS_OK;
}

/* Checks shapes fit together at the default input size. */
static ps_status check_shapes(ps_reader *r) {
    ps_shape *shapes = malloc(sizeof *shapes * (size_t)r->net->n_layers);
    if (!shapes) return ps_err_set(r->err, PS_ERR_NOMEM, "out of memory");
    ps_status st = ps_net_shapes(r->net, 256, 256, shapes, r->err);
    for (int h = 0; !st && h < PS_NUM_HEADS; h++)
        if (shapes[r->net->heads[h]].c != ps_head_channels[h])
            st = ps_err_set(r->err, PS_ERR_FORMAT, "%s: head '%s' has %d channels, expected %d",
                            r->path, ps_head_nodes[h], shapes[r->net->heads[h]].c,
                            ps_head_channels[h]);
    free(shapes);
    return st;
}

ps_status ps_net_load_tfjs(const char *json_path, ps_net *net, ps_err *err) {
    memset(net, 0, sizeof *net);
    char *text;
    size_t size;
    ps_status st = ps_file_read(json_path, PS_JSON_MAX, &text, &size, err);
    if (st) return st;
    ps_reader r = {.path = json_path, .net = net, .input = -1, .err = err};
    cJSON *root = cJSON_ParseWithLength(text, size);
    free(text);
    if (!root) st = ps_err_set(err, PS_ERR_FORMAT, "%s: not valid JSON", json_path);
    if (!st) st = read_topology(&r, root);
    if (!st)
        st = ps_tfjs_read_weights(cJSON_GetObjectItemCaseSensitive(root, "weightsManifest"),
                                  json_path, &r.consts, err);
    if (!st) st = build_net(&r);
    if (!st) st = check_shapes(&r);
    if (!st) {
        net->weights = r.consts.fdata; /* layers point into it */
        r.consts.fdata = NULL;
    }
    ps_consts_free(&r.consts);
    free(r.nodes);
    free(r.layer_of);
    cJSON_Delete(root);
    if (st) ps_net_free(net);
    return st;
}
