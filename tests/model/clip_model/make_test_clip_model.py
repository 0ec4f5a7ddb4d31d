#!/usr/bin/env python3
"""Writes the test clip model into OUT_DIR: a tiny UniLearn-style ViT with a
mixture of adapter experts (tiny_unilearn.py), randomly initialised from a
fixed seed, saved as a checkpoint and exported through
tools/export_torchscript.py exactly as a real checkpoint would be, plus
reference inputs and outputs for the C++ parity test:

  model.pt, model.json          what ferserve --backbone_model loads
  reference.json                shapes and files of the reference tensors
  clip_input.f32 ...            raw little-endian float32, row-major

Usage: make_test_clip_model.py SOURCE_DIR OUT_DIR
"""

import json
import os
import sys

import torch


def main() -> None:
    source_dir, out_dir = sys.argv[1], sys.argv[2]
    sys.path.insert(0, os.path.join(source_dir, "tools"))
    sys.path.insert(0, os.path.join(source_dir, "tests", "model", "clip_model"))
    import export_torchscript
    import tiny_unilearn

    torch.manual_seed(0)
    labels = ["neutral", "happiness", "sadness", "surprise", "anger"]
    model = tiny_unilearn.build(num_classes=len(labels))
    # Larger head weights than the default init, so that probabilities differ
    # visibly between inputs.
    with torch.no_grad():
        for head in (model.video_head, model.image_head):
            head.weight.mul_(8.0)
    os.makedirs(out_dir, exist_ok=True)
    checkpoint = os.path.join(out_dir, "checkpoint.pth")
    torch.save({"model": model.state_dict()}, checkpoint)

    # The exporter's path: a fresh model from the factory + the checkpoint.
    exported = tiny_unilearn.build(num_classes=len(labels))
    exported.load_state_dict(export_torchscript.load_state_dict(checkpoint), strict=True)
    config = export_torchscript.export(
        exported, out_dir, name="tiny-unilearn-vitmoe-test", input_size=32, frames=4, stride=2,
        labels=labels, head="video_head", image_input="repeat",
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))

    scripted = torch.jit.load(os.path.join(out_dir, "model.pt"))

    # The exporter's --wrap path (forward_features + a named head, clips in
    # S4D's [B, 3, T, H, W] layout) must give the same model.
    to_wrap = tiny_unilearn.build(num_classes=len(labels))
    to_wrap.load_state_dict(export_torchscript.load_state_dict(checkpoint), strict=True)
    wrapped_dir = os.path.join(out_dir, "wrapped")
    export_torchscript.export(to_wrap, wrapped_dir, name="wrapped", input_size=32, frames=4,
                              stride=2, labels=labels, head="video_head", wrap=True)
    wrapped = torch.jit.load(os.path.join(wrapped_dir, "model.pt"))
    probe = torch.randn(2, 4, 3, 32, 32)
    # The routers' training noise is off in the export: same input, same output.
    if any(getattr(m, "noisy_gating", False) for m in exported.modules()):
        raise SystemExit("the exporter left a router's noise on")
    with torch.no_grad():
        # From its second call on, a scripted model may run an optimized graph
        # that differs from the first call's in the last bit (LibTorch 2.x);
        # a router's noise would move the logits by far more.
        first, second = scripted(probe)["logits"], scripted(probe)["logits"]
        if not torch.allclose(first, second, rtol=0, atol=1e-5):
            raise SystemExit("the exported model is not deterministic")
        for key in ("features", "logits"):
            if not torch.allclose(wrapped(probe)[key], scripted(probe)[key], atol=1e-6):
                raise SystemExit(f"the --wrap export's {key} differ from the model's forward")
    generator = torch.Generator().manual_seed(1)
    inputs = {
        "clip_input": torch.randn(3, 4, 3, 32, 32, generator=generator),
        "image_input": torch.randn(2, 3, 32, 32, generator=generator),
    }
    reference = {"tensors": {}}

    def save(name: str, tensor: torch.Tensor) -> None:
        tensor = tensor.detach().contiguous().float()
        tensor.numpy().astype("<f4").tofile(os.path.join(out_dir, name + ".f32"))
        reference["tensors"][name] = {"file": name + ".f32", "shape": list(tensor.shape)}

    with torch.no_grad():
        for name, x in inputs.items():
            out = scripted(x)
            eager = exported(x)
            for key in ("features", "logits"):
                if not torch.allclose(out[key], eager[key], atol=1e-6):
                    raise SystemExit(f"scripted and eager {key} differ on {name}")
            kind = name.split("_")[0]
            save(name, x)
            save(kind + "_features", out["features"])
            save(kind + "_logits", out["logits"])
    reference["torch_version"] = torch.__version__
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump(reference, f, indent=2)
        f.write("\n")
    print(f"test clip model in {out_dir}: {config['feature_dim']}-d, labels {labels}")


if __name__ == "__main__":
    main()
