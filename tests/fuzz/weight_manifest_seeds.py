#!/usr/bin/env python3
"""Writes the weight_manifest fuzzer's seed corpus: prefixes of face-api's
real manifests with the matching slice of their .bin, a whole manifest with a
truncated .bin, and small synthetic manifests for the dtypes face-api does not
use. Each seed is the manifest's JSON, a NUL byte, then the shard bytes.

  tests/fuzz/weight_manifest_seeds.py third_party/assets/face-api/model \
      tests/fuzz/corpus/weight_manifest
"""
import json
import os
import struct
import sys

SIZES = {"float32": 4, "int32": 4, "uint16": 2, "float16": 2, "uint8": 1, "bool": 1}


def stored_size(w):
    n = 1
    for d in w["shape"]:
        n *= d
    return n * SIZES[w.get("quantization", {}).get("dtype", w["dtype"])]


def seed(manifest, data):
    return json.dumps(manifest, separators=(",", ":")).encode() + b"\0" + data


def prefix(model_dir, model, budget):
    """The first weights of `model` whose bytes fit in `budget`."""
    with open(os.path.join(model_dir, model + "-weights_manifest.json")) as f:
        group = json.load(f)[0]
    with open(os.path.join(model_dir, group["paths"][0]), "rb") as f:
        data = f.read()
    weights, size = [], 0
    for w in group["weights"]:
        if size + stored_size(w) > budget:
            break
        weights.append(w)
        size += stored_size(w)
    return [{"paths": group["paths"], "weights": weights}], data[:size], group, data


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    seeds = {}
    for model in ("tiny_face_detector_model", "face_expression_model", "face_landmark_68_tiny_model"):
        manifest, data, _, _ = prefix(model_dir, model, 2048)
        seeds[model + "_prefix"] = seed(manifest, data)
    _, _, group, data = prefix(model_dir, "tiny_face_detector_model", 0)
    seeds["tiny_face_detector_model_truncated"] = seed([group], data[:256])
    q = lambda dtype, scale, mn: {"dtype": dtype, "scale": scale, "min": mn}
    seeds["dtypes"] = seed(
        [{"paths": ["a.bin"], "weights": [
            {"name": "f", "shape": [2], "dtype": "float32"},
            {"name": "i", "shape": [2], "dtype": "int32"},
            {"name": "b", "shape": [3], "dtype": "bool"},
            {"name": "qi", "shape": [2], "dtype": "int32", "quantization": q("uint8", 1e9, -2e9)},
            {"name": "qf", "shape": [2], "dtype": "float32", "quantization": q("uint16", 0.5, -1)},
            {"name": "h", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}},
            {"name": "e", "shape": [0, 4], "dtype": "float32"}]},
         {"paths": [], "weights": []}],
        struct.pack("<2f2i", 1.5, -2, 7, -8) + b"\x00\x01\x02" + b"\x00\xff" + struct.pack("<2H2H", 0, 65535, 0x3c00, 0xfc00))
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
