#!/usr/bin/env node
// Throughput of face-api 1.7.15's face expression net (feature extractor +
// FC head + softmax) on TensorFlow.js 4.22.0: the peer that ferserve's
// LibTorch expression net is benchmarked against.
//
// Each crop PNG is turned into a float [112,112,3] tensor exactly as face-api's
// NetInput.toBatchTensor(112, true) does (centre zero-pad to square, bilinear
// resize to 112). For each batch size B a batch is B such tensors (the crops
// cycled), passed as an array to faceExpressionNet.forward(), which stacks,
// normalises and runs them as one [B,112,112,3] batch; each timed call ends
// with reading the [B,7] probabilities back (dataSync). With --from-crops the
// raw crop tensors are passed instead, so face-api's pad+resize is timed too.
//
// After a warm-up, calls are repeated for --seconds per batch size, split into
// --reps timed repetitions; the median repetition is reported.
//
// Usage:
//   node bench.js --model DIR [--backend wasm|cpu] [--seconds 5]
//        [--batches 1,8,32] [--reps 5] [--threads N] [--from-crops] CROP.png ...
//
// Prints one JSON line on stdout:
//   {"backend":"wasm","threads":N,"tfjs":"4.22.0","input":"pre-resized 112x112",
//    "crops":K,"results":[{"batch":1,"faces_per_s":..,"median_ms_per_batch":..,
//    "faces_per_cpu_s":..,"median_cpu_ms_per_batch":..,
//    "reps":[faces/s of each repetition]}, ...]}
// faces_per_s is wall-clock based; the *_cpu_* fields use the process CPU
// time instead, a steadier figure on a busy machine (wasm is single-threaded).
// The tfjs wasm backend runs single-threaded under Node (its threaded build is
// browser-only), so threads is 1 unless tfjs changes that.
'use strict';

const {
  die, requireDeps, parseArgs, readPng, initBackend, checkModelDir,
} = require('./lib');

const USAGE = `usage: node bench.js --model DIR [--backend wasm|cpu] [--seconds 5]
       [--batches 1,8,32] [--reps 5] [--threads N] [--from-crops] CROP.png ...
`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  const { opts, files } = parseArgs(process.argv.slice(2), {
    model: { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    seconds: { type: 'number', default: 5 },
    batches: { type: 'list', default: [1, 8, 32] },
    reps: { type: 'int', default: 5 },
    threads: { type: 'int' },
    'from-crops': { type: 'bool', default: false },
  }, USAGE);
  if (files.length === 0) die(`no crop images\n${USAGE}`);
  if (!(opts.seconds > 0)) die('--seconds must be > 0');
  if (opts.reps < 1) die('--reps must be >= 1');
  checkModelDir(opts.model, ['face_expression_model']);

  const { tf, wasm, faceapi, PNG } = requireDeps();
  const images = files.map((f) => readPng(PNG, f)); // exits on unreadable files
  const { backend, threads } = await initBackend(tf, wasm, opts.backend, opts.threads);
  const net = faceapi.nets.faceExpressionNet;
  await net.loadFromDisk(opts.model);

  const crops = images.map((im) => tf.tensor3d(im.rgb, [im.height, im.width, 3], 'int32'));
  const inputs = [];
  for (const c of crops) {
    if (opts['from-crops']) {
      inputs.push(c);
    } else {
      const netInput = await faceapi.toNetInput(c);
      const t4 = netInput.toBatchTensor(112, true); // [1,112,112,3] float32
      inputs.push(t4.reshape([112, 112, 3]));
      t4.dispose();
    }
  }

  const runBatch = async (batch) => {
    const probs = await net.forward(batch);
    probs.dataSync();
    probs.dispose();
  };

  const results = [];
  for (const B of opts.batches) {
    const batch = Array.from({ length: B }, (_, i) => inputs[i % inputs.length]);
    // Warm-up: at least 3 calls and ~10% of the time budget.
    const warmEnd = performance.now() + Math.max(200, opts.seconds * 100);
    for (let i = 0; i < 3 || performance.now() < warmEnd; i += 1) await runBatch(batch);
    const repMs = (opts.seconds * 1000) / opts.reps;
    const reps = [];
    const cpuReps = [];
    for (let r = 0; r < opts.reps; r += 1) {
      let n = 0;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let t1 = t0;
      while (n === 0 || t1 - t0 < repMs) {
        await runBatch(batch);
        n += 1;
        t1 = performance.now();
      }
      const c1 = process.cpuUsage(c0);
      reps.push((t1 - t0) / n); // wall ms per batch
      cpuReps.push((c1.user + c1.system) / 1e3 / n); // CPU ms per batch
    }
    const msPerBatch = median(reps);
    const cpuMsPerBatch = median(cpuReps);
    results.push({
      batch: B,
      faces_per_s: (1000 * B) / msPerBatch,
      median_ms_per_batch: msPerBatch,
      faces_per_cpu_s: (1000 * B) / cpuMsPerBatch,
      median_cpu_ms_per_batch: cpuMsPerBatch,
      reps: reps.map((ms) => (1000 * B) / ms),
    });
    process.stderr.write(`batch ${B}: ${((1000 * B) / msPerBatch).toFixed(1)} faces/s, ${msPerBatch.toFixed(2)} ms/batch\n`);
  }
  tf.dispose(crops);
  tf.dispose(inputs);

  process.stdout.write(`${JSON.stringify({
    backend,
    threads,
    tfjs: tf.version.tfjs,
    input: opts['from-crops'] ? 'raw crops (face-api pad+resize timed)' : 'pre-resized 112x112',
    crops: files.length,
    results,
  })}\n`);
}

main().catch((e) => die(e && e.stack ? e.stack : String(e), 1));
