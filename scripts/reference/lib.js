// Shared helpers for reference.js and bench.js: command-line parsing, PNG
// loading into int32 [H,W,3] tensors, and TensorFlow.js backend set-up for
// the face-api 1.7.15 reference (wasm binaries loaded from the local
// node_modules, never from the network).
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg, code = 2) {
  process.stderr.write(`${path.basename(process.argv[1] || 'node')}: error: ${msg}\n`);
  process.exit(code);
}

function requireDeps() {
  try {
    const tf = require('@tensorflow/tfjs');
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');
    const { PNG } = require('pngjs');
    return { tf, wasm, faceapi, PNG };
  } catch (e) {
    return die(`cannot load the reference packages (${e.message}); run scripts/reference/install first`, 1);
  }
}

// Parses argv against a spec { name: { type: 'string'|'number'|'int'|'bool'|'list', default } }.
// Returns { opts, files }. Unknown options and missing values are errors.
function parseArgs(argv, spec, usage) {
  const opts = {};
  for (const [k, s] of Object.entries(spec)) opts[k] = s.default;
  const files = [];
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    if (a === '-h' || a === '--help') {
      process.stdout.write(usage);
      process.exit(0);
    }
    if (a === '--') { files.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith('--')) { files.push(a); continue; }
    let name = a.slice(2);
    let value;
    const eq = name.indexOf('=');
    if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    const s = spec[name];
    if (!s) die(`unknown option --${name}\n${usage}`);
    if (s.type === 'bool') {
      if (value !== undefined) die(`--${name} takes no value`);
      opts[name] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) die(`--${name} needs a value`);
      i += 1;
      value = argv[i];
    }
    if (s.type === 'number' || s.type === 'int') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n) || (s.type === 'int' && !Number.isInteger(n))) {
        die(`--${name} expects ${s.type === 'int' ? 'an integer' : 'a number'}, got '${value}'`);
      }
      opts[name] = n;
    } else if (s.type === 'list') {
      const parts = value.split(',').map((x) => x.trim());
      const nums = parts.map(Number);
      if (parts.some((p) => p === '') || nums.some((n) => !Number.isInteger(n) || n <= 0)) {
        die(`--${name} expects a comma-separated list of positive integers, got '${value}'`);
      }
      opts[name] = nums;
    } else {
      opts[name] = value;
    }
  }
  return { opts, files };
}

// Decodes a PNG file into { width, height, rgb: Int32Array(H*W*3) }. Any PNG
// colour type (grey, palette, RGB, RGBA, 16-bit) is normalised to 8-bit RGB;
// an alpha channel is dropped (not composited), like OpenCV's IMREAD_COLOR.
function readPng(PNG, file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    return die(`cannot read ${file}: ${e.message}`, 1);
  }
  let png;
  try {
    png = PNG.sync.read(buf);
  } catch (e) {
    return die(`${file} is not a readable PNG: ${e.message}`, 1);
  }
  const { width, height, data } = png; // data is always RGBA, 8 bits
  const rgb = new Int32Array(width * height * 3);
  for (let p = 0, q = 0; p < data.length; p += 4, q += 3) {
    rgb[q] = data[p];
    rgb[q + 1] = data[p + 1];
    rgb[q + 2] = data[p + 2];
  }
  return { width, height, rgb };
}

// Selects and initialises the backend. Returns { backend, threads }.
async function initBackend(tf, wasm, backend, threads) {
  if (backend === 'wasm') {
    const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
    for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm']) {
      if (!fs.existsSync(dir + f)) die(`missing ${dir + f}; run scripts/reference/install`, 1);
    }
    wasm.setWasmPaths(dir); // local directory: no CDN, no fetch
    if (threads !== undefined) {
      if (typeof wasm.setThreadsCount !== 'function') die('--threads: this tfjs-backend-wasm has no setThreadsCount');
      wasm.setThreadsCount(threads);
    }
  } else if (backend !== 'cpu') {
    die(`--backend must be wasm or cpu, got '${backend}'`);
  }
  if (!(await tf.setBackend(backend))) die(`could not initialise the ${backend} backend`, 1);
  await tf.ready();
  let actualThreads = 1;
  if (backend === 'wasm') {
    actualThreads = wasm.getThreadsCount();
  } else {
    tf.backend().firstUse = false; // silence the "install tfjs-node" banner
  }
  return { backend: tf.getBackend(), threads: actualThreads };
}

function checkModelDir(dir, names) {
  if (!dir) die('--model DIR is required');
  for (const n of names) {
    const f = path.join(dir, `${n}-weights_manifest.json`);
    if (!fs.existsSync(f)) die(`model file ${f} not found (is --model the face-api model/ directory?)`, 1);
  }
}

module.exports = { die, requireDeps, parseArgs, readPng, initBackend, checkModelDir };
