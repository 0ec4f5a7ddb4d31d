#!/usr/bin/env node
// Reference outputs for ferserve parity tests, from @vladmandic/face-api
// 1.7.15 on TensorFlow.js 4.22.0 (wasm or pure-JS cpu backend).
//
// For every PNG it runs exactly
//   faceapi.detectAllFaces(img, new faceapi.SsdMobilenetv1Options({ minConfidence, maxResults }))
//     .withFaceLandmarks().withFaceExpressions()
// (or TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold }) with --tiny)
// on an int32 [H,W,3] RGB tensor, and for each face also runs the expression
// net's feature extractor on the same aligned crop the expression net saw
// (faceapi.extractFaceTensors(img, [alignedRect])) to record the 256-d feature
// and the 7 logits. Writes one JSON file (full float precision).
//
// Usage:
//   node reference.js --model DIR --out OUT.json [--min-score 0.5]
//        [--max-results 100] [--backend wasm|cpu] [--tiny] [--threads N]
//        IMAGE.png ...
//
// Output:
//   {"backend","threads","tfjs","face_api","detector","min_score","max_results",
//    "images":[{"file","width","height","ms","cpu_ms",
//      "faces":[{"box":{x,y,width,height},"score","landmarks":[[x,y]x68],
//                "aligned_box":{x,y,width,height},"aligned_crop":{x,y,width,height},
//                "expressions":[7],"logits":[7],"feature":[256]}]}]}
// Expression order: neutral, happy, sad, angry, fearful, disgusted, surprised.
// Boxes and landmarks are in image pixels. aligned_crop is the integer,
// clipped region that was sliced out of the image and fed to the expression
// net (and to the feature extractor). "ms" is the wall time of the face-api
// pipeline for that image, "cpu_ms" the process CPU time it used (robust
// when the machine is busy; the wasm backend is single-threaded).
'use strict';

const fs = require('fs');
const path = require('path');
const {
  die, requireDeps, parseArgs, readPng, initBackend, checkModelDir,
} = require('./lib');

const USAGE = `usage: node reference.js --model DIR --out OUT.json [--min-score 0.5]
       [--max-results 100] [--backend wasm|cpu] [--tiny] [--threads N] IMAGE.png ...
`;

const LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];

const box = (b) => ({ x: b.x, y: b.y, width: b.width, height: b.height });

async function main() {
  const { opts, files } = parseArgs(process.argv.slice(2), {
    model: { type: 'string' },
    out: { type: 'string' },
    'min-score': { type: 'number', default: 0.5 },
    'max-results': { type: 'int', default: 100 },
    backend: { type: 'string', default: 'wasm' },
    tiny: { type: 'bool', default: false },
    threads: { type: 'int' },
  }, USAGE);
  if (!opts.out) die(`--out OUT.json is required\n${USAGE}`);
  if (files.length === 0) die(`no input images\n${USAGE}`);
  if (!(opts['min-score'] >= 0 && opts['min-score'] <= 1)) die('--min-score must be in [0, 1]');
  if (opts['max-results'] < 1) die('--max-results must be >= 1');
  const detectorName = opts.tiny ? 'tiny_face_detector_model' : 'ssd_mobilenetv1_model';
  checkModelDir(opts.model, [detectorName, 'face_landmark_68_model', 'face_expression_model']);
  for (const f of files) {
    if (!fs.existsSync(f)) die(`cannot read ${f}: no such file`, 1);
  }
  const outDir = path.dirname(path.resolve(opts.out));
  if (!fs.existsSync(outDir)) die(`output directory ${outDir} does not exist`, 1);

  const { tf, wasm, faceapi, PNG } = requireDeps();
  const { backend, threads } = await initBackend(tf, wasm, opts.backend, opts.threads);

  const { nets } = faceapi;
  await (opts.tiny ? nets.tinyFaceDetector : nets.ssdMobilenetv1).loadFromDisk(opts.model);
  await nets.faceLandmark68Net.loadFromDisk(opts.model);
  await nets.faceExpressionNet.loadFromDisk(opts.model);
  const detectorOptions = opts.tiny
    ? new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: opts['min-score'] })
    : new faceapi.SsdMobilenetv1Options({ minConfidence: opts['min-score'], maxResults: opts['max-results'] });

  const out = {
    backend,
    threads,
    tfjs: tf.version.tfjs,
    face_api: faceapi.version,
    detector: opts.tiny ? 'tiny_face_detector(inputSize=416)' : 'ssd_mobilenetv1',
    min_score: opts['min-score'],
    max_results: opts.tiny ? null : opts['max-results'],
    expression_labels: LABELS,
    images: [],
  };

  let maxSelfDiff = 0; // pipeline expressions vs softmax(FC(feature)): must be ~0
  for (const file of files) {
    const img = readPng(PNG, file);
    const input = tf.tensor3d(img.rgb, [img.height, img.width, 3], 'int32');

    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const results = await faceapi.detectAllFaces(input, detectorOptions)
      .withFaceLandmarks()
      .withFaceExpressions();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const c1 = process.cpuUsage(c0);
    const cpuMs = (c1.user + c1.system) / 1e3;

    const faces = [];
    for (const r of results) {
      const expressions = LABELS.map((l) => r.expressions[l]);
      const face = {
        box: box(r.detection.box),
        score: r.detection.score,
        landmarks: r.landmarks.positions.map((p) => [p.x, p.y]),
        aligned_box: box(r.alignedRect.box),
        aligned_crop: null,
        expressions,
        logits: null,
        feature: null,
      };
      // Same crop as extractAllFacesAndComputeResults() in face-api.
      const [crop] = await faceapi.extractFaceTensors(input, [r.alignedRect]);
      if (crop) {
        const c = r.alignedRect.forSize(img.width, img.height).box.clipAtImageBorders(img.width, img.height);
        face.aligned_crop = box(c);
        const feat = await nets.faceExpressionNet.faceFeatureExtractor.forward(crop); // [1,1,1,256]
        const logits = nets.faceExpressionNet.runNet(feat); // FC 256->7, [1,7]
        const probs = tf.softmax(logits);
        face.feature = Array.from(await feat.data());
        face.logits = Array.from(await logits.data());
        const p = await probs.data();
        for (let k = 0; k < 7; k += 1) maxSelfDiff = Math.max(maxSelfDiff, Math.abs(p[k] - expressions[k]));
        tf.dispose([crop, feat, logits, probs]);
      }
      faces.push(face);
    }
    tf.dispose(input);
    out.images.push({
      file: path.basename(file), width: img.width, height: img.height, ms, cpu_ms: cpuMs, faces,
    });
    process.stderr.write(`${path.basename(file)}: ${img.width}x${img.height}, ${faces.length} face(s), ${ms.toFixed(1)} ms (cpu ${cpuMs.toFixed(1)} ms)\n`);
  }
  if (maxSelfDiff > 1e-6) {
    process.stderr.write(`warning: feature->FC->softmax differs from face-api's expressions by ${maxSelfDiff}\n`);
  }

  fs.writeFileSync(opts.out, `${JSON.stringify(out)}\n`);
  process.stderr.write(`wrote ${opts.out} (${backend}, ${out.images.reduce((n, i) => n + i.faces.length, 0)} faces)\n`);
}

main().catch((e) => die(e && e.stack ? e.stack : String(e), 1));
