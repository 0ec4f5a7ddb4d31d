#!/usr/bin/env python3
"""Exports a PyTorch clip or frame model (UniLearn/S4D, S2D or any
nn.Module) to TorchScript plus the model config ferserve reads
(--backbone_model=CONFIG.json).

  python3 tools/export_torchscript.py \\
      --factory my_models.vitmoe:vitmoe_base_patch16_160 \\
      --factory_kwargs '{"num_classes": 7}' \\
      --checkpoint unilearn_dfew_fold1.pth \\
      --out_dir models/unilearn \\
      --name unilearn-vitmoe-b16-dfew --input_size 160 --frames 16 --stride 4 \\
      --labels neutral,happy,sad,angry,fearful,disgusted,surprised \\
      --head video_head

What it does:
  1. builds the model with FACTORY(**FACTORY_KWARGS) (a "module:function"
     importable from --python_path or the working folder);
  2. loads the checkpoint's state dict (a plain state dict or one under
     "model", "module" or "state_dict"; a "module." prefix from
     DataParallel is dropped) strictly: every tensor must match;
  3. switches to eval mode and turns routers' training noise off (any
     submodule attribute `noisy_gating` is set False, `noise_std` to 0), so
     the exported model is deterministic;
  4. with --wrap, wraps a model that has `forward_features` and the head
     named by --head so that forward returns {"features": [B, D],
     "logits": [B, C]} (clips reach forward_features as [B, 3, T, H, W],
     VideoMAE/S4D's layout, unless --clip_layout btchw); without it the
     model's own forward must return that dict;
  5. scripts it (torch.jit.script; --trace traces instead, for models
     that do not script: a traced model keeps only the input rank it was
     traced with, so then also pass --image_input repeat);
  6. runs it on a random clip (and image, with --image_input native),
     checks the output shapes against --labels and writes model.pt and
     model.json (feature_dim taken from the output).

The model config (model.json), validated by ferserve at start-up:
  name          model name, the backbone id the server reports (and PFT bundles
                and stored translators are checked against): change it with
                the weights
  model_file    TorchScript file, relative to the config's folder
  input_size    face crop side in pixels (square)
  frames        frames T per clip (1: a frame model taking [B, 3, H, W])
  stride        StreamPredict emits a clip prediction every `stride` frames
  image_input   how a single image is served: "repeat" (repeated to T
                frames) or "native" (the model takes [B, 3, H, W] itself)
  mean, std     per-channel RGB normalization of pixels scaled to [0, 1]
  feature_dim   D of the features output
  labels        class names in logits order
  outputs       where forward's result holds "features" and "logits" (or
                "probabilities"): names in a dict, or indices in a tuple
  head          attributes of the frozen linear classifier on the features
                ({"weight": "video_head.weight", "bias": "video_head.bias"}),
                used to serve personalized (PFT-translated) features
"""

import argparse
import importlib
import json
import os
import sys
from typing import Dict

import torch
from torch import nn


class FeaturesAndLogits(nn.Module):
    """forward -> {"features", "logits"} from forward_features + a head.
    ferserve sends clips as [B, T, 3, H, W]; with `channels_first` they are
    handed to forward_features as [B, 3, T, H, W] (VideoMAE/S4D's layout)."""

    def __init__(self, model: nn.Module, head: nn.Module, channels_first: bool):
        super().__init__()
        self.model = model
        self.head = head
        self.channels_first = channels_first

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        if x.dim() == 5 and self.channels_first:
            x = x.permute(0, 2, 1, 3, 4)
        features = self.model.forward_features(x)
        return {"features": features, "logits": self.head(features)}


def load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu")
    for key in ("model", "module", "state_dict"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def make_deterministic(model: nn.Module) -> None:
    model.eval()
    for module in model.modules():
        if hasattr(module, "noisy_gating"):
            module.noisy_gating = False
        if hasattr(module, "noise_std"):
            module.noise_std = 0.0


def build_model(factory: str, kwargs: dict) -> nn.Module:
    module_name, function = factory.split(":")
    return getattr(importlib.import_module(module_name), function)(**kwargs)


def export(model: nn.Module, out_dir: str, *, name: str, input_size: int, frames: int,
           stride: int, labels, head: str, image_input: str = "repeat",
           mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), trace: bool = False,
           wrap: bool = False, clip_layout: str = "bcthw") -> dict:
    """Scripts `model` into out_dir/model.pt and writes out_dir/model.json;
    returns the config."""
    make_deterministic(model)
    if wrap:
        model = FeaturesAndLogits(model, model.get_submodule(head), clip_layout == "bcthw")
        head = "head"
    head_module = model.get_submodule(head)
    if not isinstance(head_module, nn.Linear):
        raise SystemExit(f"--head {head} is a {type(head_module).__name__}, not an nn.Linear")
    clip = torch.randn(2, frames, 3, input_size, input_size) if frames > 1 else \
        torch.randn(2, 3, input_size, input_size)
    with torch.no_grad():
        scripted = torch.jit.trace(model, clip, strict=False) if trace else torch.jit.script(model)
        out = scripted(clip)
    if not isinstance(out, dict) or "features" not in out or "logits" not in out:
        raise SystemExit("the model's forward must return a dict with 'features' and 'logits' "
                         "(use --wrap for a model with forward_features)")
    features, logits = out["features"], out["logits"]
    if features.dim() != 2 or logits.shape != (2, len(labels)):
        raise SystemExit(f"outputs: features {tuple(features.shape)}, logits "
                         f"{tuple(logits.shape)}; expected [2, D] and [2, {len(labels)}]")
    os.makedirs(out_dir, exist_ok=True)
    model_path = os.path.join(out_dir, "model.pt")
    scripted.save(model_path)
    config = {
        "name": name,
        "model_file": "model.pt",
        "input_size": input_size,
        "frames": frames,
        "stride": stride,
        "image_input": image_input,
        "mean": list(mean),
        "std": list(std),
        "feature_dim": int(features.shape[1]),
        "labels": list(labels),
        "outputs": {"features": "features", "logits": "logits"},
        "head": {"weight": f"{head}.weight", "bias": f"{head}.bias"},
    }
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    return config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--factory", required=True, help="module:function building the model")
    p.add_argument("--factory_kwargs", default="{}", help="JSON keyword arguments")
    p.add_argument("--python_path", default="", help="folder to import the factory from")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out_dir", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--input_size", type=int, required=True)
    p.add_argument("--frames", type=int, required=True)
    p.add_argument("--stride", type=int, default=0, help="default: frames")
    p.add_argument("--labels", required=True, help="comma-separated, logits order")
    p.add_argument("--head", default="head", help="the linear classifier's attribute path")
    p.add_argument("--image_input", choices=["repeat", "native"], default="repeat")
    p.add_argument("--mean", default="0.485,0.456,0.406")
    p.add_argument("--std", default="0.229,0.224,0.225")
    p.add_argument("--wrap", action="store_true",
                   help="export forward_features + --head as {features, logits}")
    p.add_argument("--clip_layout", choices=["bcthw", "btchw"], default="bcthw",
                   help="with --wrap: the clip layout forward_features takes")
    p.add_argument("--trace", action="store_true", help="torch.jit.trace instead of script")
    a = p.parse_args()
    if a.python_path:
        sys.path.insert(0, a.python_path)
    model = build_model(a.factory, json.loads(a.factory_kwargs))
    model.load_state_dict(load_state_dict(a.checkpoint), strict=True)
    config = export(model, a.out_dir, name=a.name, input_size=a.input_size, frames=a.frames,
                    stride=a.stride or a.frames, labels=a.labels.split(","), head=a.head,
                    image_input=a.image_input, mean=[float(v) for v in a.mean.split(",")],
                    std=[float(v) for v in a.std.split(",")], trace=a.trace, wrap=a.wrap,
                    clip_layout=a.clip_layout)
    print(f"wrote {a.out_dir}/model.pt and model.json: {config['name']}, "
          f"{config['feature_dim']}-d features, {len(config['labels'])} labels")


if __name__ == "__main__":
    main()
