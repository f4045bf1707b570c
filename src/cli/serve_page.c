/* The live page of `posestream serve` and its previews (see serve_page.h):
 * one small HTML page, served from the binary, that lists the streams with
 * a preview each, their figures refreshed every second from the API, and a
 * form to add and remove streams; no framework and nothing fetched from
 * elsewhere. */
#include "cli/serve_page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The page. The token, when the server asks for one, comes from the page's
 * own ?token= and goes with every call (a header for fetch, ?token= for the
 * images, which cannot send headers). */
static const char page[] =
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    "<meta name=viewport content='width=device-width,initial-scale=1'>"
    "<title>posestream</title><style>"
    "body{font:14px system-ui,sans-serif;margin:0;background:#111;color:#ddd}"
    "header{padding:10px 16px;background:#1b1b1b;display:flex;gap:16px;align-items:center;"
    "flex-wrap:wrap}h1{font-size:18px;margin:0}#summary{color:#9a9}"
    "form{display:flex;gap:6px;flex-wrap:wrap}input{background:#222;color:#eee;border:1px solid"
    " #444;padding:4px 6px}button{background:#2d5;border:0;padding:5px 10px;cursor:pointer}"
    "#grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px;"
    "padding:12px}.card{background:#1b1b1b;border-radius:6px;overflow:hidden}"
    ".card img{width:100%;display:block;background:#000;aspect-ratio:16/9;object-fit:contain}"
    ".meta{padding:6px 10px;display:flex;justify-content:space-between;gap:8px}"
    ".figs{padding:0 10px 8px;color:#aaa;font-variant-numeric:tabular-nums}"
    ".rm{background:#b33;color:#fff}#err{color:#f66}</style></head><body>"
    "<header><h1>posestream</h1><span id=summary></span>"
    "<form id=add><input name=uri placeholder='uri (file, rtsp://, synthetic:640x360@30)'"
    " size=36 required><input name=name placeholder=name size=10>"
    "<input name=priority type=number placeholder=priority style='width:6em'>"
    "<button>add stream</button></form><span id=err></span></header>"
    "<main id=grid></main><script>\n"
    "const tok=new URLSearchParams(location.search).get('token');\n"
    "const hdr=tok?{Authorization:'Bearer '+tok}:{};\n"
    "const q=tok?'&token='+encodeURIComponent(tok):'';\n"
    "const grid=document.getElementById('grid'),cards={};\n"
    "function fmt(v,d){return v==null?'-':Number(v).toFixed(d)}\n"
    "function card(s){let c=cards[s.id];if(c)return c;c=document.createElement('div');"
    "c.className='card';c.id='stream-'+s.id;c.innerHTML='<img alt=preview><div class=meta>"
    "<b class=name></b><button class=rm>remove</button></div><div class=figs></div>';"
    "c.querySelector('img').src='/api/v1/streams/'+s.id+'/preview.mjpeg?fps=5&height=360'+q;"
    "c.querySelector('.rm').onclick=()=>fetch('/api/v1/streams/'+s.id,{method:'DELETE',"
    "headers:hdr}).then(tick);grid.appendChild(c);return cards[s.id]=c}\n"
    "function show(s){const c=card(s),f=s.figures||s;c.querySelector('.name').textContent="
    "s.name+' ('+s.state+')';c.querySelector('.figs').textContent='fps '+fmt(f.fps,1)+"
    "'  p99 '+fmt(f.latency&&f.latency.p99_ms,1)+' ms  dropped '+fmt(f.dropped,0)+"
    "'  late '+fmt(f.late,0)}\n"
    "async function tick(){try{const r=await fetch('/api/v1/streams',{headers:hdr});"
    "const all=await r.json(),list=all.filter(s=>s.state!='removed');const ids=new Set();"
    "for(const s of list){ids.add(String(s.id));show(s)}"
    "for(const id in cards)if(!ids.has(id)){cards[id].remove();delete cards[id]}"
    "document.getElementById('summary').textContent=list.length+' streams';"
    "document.getElementById('err').textContent=''}catch(e){"
    "document.getElementById('err').textContent='server not answering'}}\n"
    "document.getElementById('add').onsubmit=async e=>{e.preventDefault();"
    "const f=new FormData(e.target),b={uri:f.get('uri')};if(f.get('name'))b.name=f.get('name');"
    "if(f.get('priority'))b.priority=Number(f.get('priority'));const r=await fetch("
    "'/api/v1/streams',{method:'POST',headers:Object.assign({'Content-Type':"
    "'application/json'},hdr),body:JSON.stringify(b)});if(!r.ok)"
    "document.getElementById('err').textContent=(await r.json()).error;else e.target.reset();"
    "tick()};\n"
    "tick();setInterval(tick,1000);\n"
    "</script></body></html>\n";

const char *serve_page_html(size_t *len) {
    *len = sizeof page - 1;
    return page;
}

int serve_is_preview(const char *path, int *stream) {
    static const char prefix[] = "/api/v1/streams/";
    if (strncmp(path, prefix, sizeof prefix - 1)) return 0;
    const char *p = path + sizeof prefix - 1;
    char *end;
    long id = strtol(p, &end, 10);
    if (end == p || *p == '-' || *p == '+' || id > 1000000000L) return 0;
    if (strcmp(end, "/preview.mjpeg")) return 0;
    *stream = (int)id;
    return 1;
}

struct serve_mjpeg {
    ps_preview *p;
    const int *stopping;
    uint8_t *jpeg;
    size_t cap;
    char head[128];
    size_t head_len, jpeg_len, pos; /* pos over head, then jpeg, then "\r\n" */
};

serve_mjpeg *serve_mjpeg_new(ps_preview *p, const int *stopping) {
    serve_mjpeg *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->p = p;
    m->stopping = stopping;
    return m;
}

void serve_mjpeg_free(serve_mjpeg *m) {
    if (!m) return;
    ps_preview_close(m->p);
    free(m->jpeg);
    free(m);
}

/* The next part's picture; 0 when the stream ended or the server stops. */
static int next_part(serve_mjpeg *m) {
    for (;;) {
        if (__atomic_load_n(m->stopping, __ATOMIC_ACQUIRE)) return 0;
        int64_t n = ps_preview_next(m->p, &m->jpeg, &m->cap, 500);
        if (n < 0) return 0;
        if (n == 0) continue;
        m->jpeg_len = (size_t)n;
        m->head_len = (size_t)snprintf(m->head, sizeof m->head,
                                       "--frame\r\nContent-Type: image/jpeg\r\n"
                                       "Content-Length: %zu\r\n\r\n", m->jpeg_len);
        m->pos = 0;
        return 1;
    }
}

size_t serve_mjpeg_read(serve_mjpeg *m, char *buf, size_t max) {
    size_t total = m->head_len + m->jpeg_len + 2;
    if ((m->pos >= total || !m->head_len) && !next_part(m)) return 0;
    total = m->head_len + m->jpeg_len + 2;
    size_t n = 0;
    while (n < max && m->pos < total) {
        size_t at = m->pos;
        if (at < m->head_len) buf[n] = m->head[at];
        else if (at < m->head_len + m->jpeg_len) buf[n] = (char)m->jpeg[at - m->head_len];
        else buf[n] = at == total - 2 ? '\r' : '\n';
        n++;
        m->pos++;
    }
    return n;
}
