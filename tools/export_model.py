#!/usr/bin/python3
"""Exports a torchvision classifier (or a state dict for one) to the files `--model FILE` reads.

Usage: /usr/bin/python3 tools/export_model.py ARCH [--weights STATE_DICT.pth] [--out DIR]
                                              [--trace] [--size N] [--channels C]

Writes DIR/ARCH.pt, a TorchScript module (torch.jit.script; with --trace, torch.jit.trace on a
C x N x N input, default 3 x 224 x 224), weights inside, in eval mode; and DIR/ARCH.onnx
(torch.onnx.export, opset 13, that input size fixed) for tools that read ONNX. Without
--weights the model keeps torchvision's random initialisation (seeded 0). Uses Debian's
python3-torch / python3-torchvision; nothing is downloaded.
"""
import argparse
import os
import sys

import torch
import torchvision


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("arch", help="a torchvision.models constructor, e.g. resnet50, mobilenet_v2")
    p.add_argument("--weights", help="a state dict saved with torch.save")
    p.add_argument("--out", default=".", help="output folder (default .)")
    p.add_argument("--trace", action="store_true", help="trace instead of script")
    p.add_argument("--size", type=int, default=224, help="input height and width (default 224)")
    p.add_argument("--channels", type=int, default=3, help="input channels (default 3)")
    a = p.parse_args()
    ctor = getattr(torchvision.models, a.arch, None)
    if ctor is None or not callable(ctor):
        sys.exit(f"export_model: torchvision.models has no model '{a.arch}'")
    torch.manual_seed(0)
    model = ctor()
    if a.weights:
        try:
            sd = torch.load(a.weights, map_location="cpu")
        except Exception as e:  # noqa: BLE001 - one line for any load failure
            sys.exit(f"export_model: cannot load {a.weights}: {e}")
        if isinstance(sd, dict) and "state_dict" in sd:
            sd = sd["state_dict"]
        model.load_state_dict(sd)
    model.eval()
    os.makedirs(a.out, exist_ok=True)
    x = torch.zeros(1, a.channels, a.size, a.size)
    ts = os.path.join(a.out, a.arch + ".pt")
    (torch.jit.trace(model, x) if a.trace else torch.jit.script(model)).save(ts)
    onnx = os.path.join(a.out, a.arch + ".onnx")
    torch.onnx.export(model, x, onnx, opset_version=13, input_names=["input"],
                      output_names=["logits"])
    print(f"wrote {ts} and {onnx}")


if __name__ == "__main__":
    main()
