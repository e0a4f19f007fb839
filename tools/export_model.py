#!/usr/bin/python3
"""Exports a torchvision classifier (or a state dict for one) to the files `--model FILE` reads.

Usage: /usr/bin/python3 tools/export_model.py ARCH [--weights STATE_DICT.pth] [--out DIR]
                                              [--trace] [--size N] [--channels C] [--opset K]
       /usr/bin/python3 tools/export_model.py vit [--image-size N] [--patch-size P]
                                              [--layers L] [--heads H] [--hidden D] [--mlp M]
                                              [--classes K] [--channels 1|3] [--name NAME] ...

Writes DIR/ARCH.pt, a TorchScript module (torch.jit.script; with --trace, torch.jit.trace on a
C x N x N input, default 3 x 224 x 224), weights inside, in eval mode; and DIR/ARCH.onnx
(torch.onnx.export, that input size fixed) for tools that read ONNX. Without --weights the
model keeps torchvision's random initialisation (seeded 0). Uses Debian's python3-torch /
python3-torchvision; nothing is downloaded.

Vision transformers: torchvision's constructors (vit_b_16, vit_b_32, vit_l_16, vit_l_32, ...),
or ARCH `vit` for a custom torchvision.models.VisionTransformer from --image-size,
--patch-size, --layers, --heads, --hidden, --mlp and --classes (written as NAME.pt / NAME.onnx,
default `vit`). --channels 1 replaces conv_proj by a 1-channel Conv2d (as fashion-vit has).
The input size is the ViT's image size (--size is ignored for ViTs). Every parameter keeps
requires_grad=True, so that torch 1.13 records the decomposed attention (not the fused
aten::_native_multi_head_attention of its inference fast path); traces skip torch.jit.trace's
re-run check (which that fast path trips). lrpbench reads ViTs from the TorchScript file
(script or trace), verified against the file's own forward; not yet from ONNX.

ONNX: --opset K (default 14; ViTs need 14 to 17, where the attention's ops are defined as
torch exports them). --no-onnx skips the ONNX file.
"""
import argparse
import os
import sys

import torch
import torchvision


def build_model(a):
    """The model the arguments name and whether it is a vision transformer."""
    if a.arch == "vit":
        torch.manual_seed(0)
        model = torchvision.models.VisionTransformer(
            image_size=a.image_size, patch_size=a.patch_size, num_layers=a.layers,
            num_heads=a.heads, hidden_dim=a.hidden, mlp_dim=a.mlp, num_classes=a.classes)
        return model, True
    ctor = getattr(torchvision.models, a.arch, None)
    if ctor is None or not callable(ctor):
        sys.exit(f"export_model: torchvision.models has no model '{a.arch}'")
    torch.manual_seed(0)
    model = ctor() if a.classes is None else ctor(num_classes=a.classes)
    return model, isinstance(model, torchvision.models.VisionTransformer)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("arch", help="a torchvision.models constructor, e.g. resnet50, mobilenet_v2, "
                               "vit_b_16; or vit for a custom VisionTransformer")
    p.add_argument("--weights", help="a state dict saved with torch.save")
    p.add_argument("--out", default=".", help="output folder (default .)")
    p.add_argument("--trace", action="store_true", help="trace instead of script")
    p.add_argument("--size", type=int, default=224,
                   help="input height and width (default 224; ViTs: their image size)")
    p.add_argument("--channels", type=int, default=3, help="input channels (default 3)")
    p.add_argument("--opset", type=int, default=14, help="ONNX opset (default 14)")
    p.add_argument("--no-onnx", action="store_true", help="write no ONNX file")
    p.add_argument("--name", help="output file name without extension (default ARCH)")
    v = p.add_argument_group("custom ViT (ARCH vit)")
    v.add_argument("--image-size", type=int, default=224)
    v.add_argument("--patch-size", type=int, default=16)
    v.add_argument("--layers", type=int, default=12)
    v.add_argument("--heads", type=int, default=12)
    v.add_argument("--hidden", type=int, default=768)
    v.add_argument("--mlp", type=int, default=3072)
    v.add_argument("--classes", type=int, default=None,
                   help="classes (default 1000; for ARCH vit and torchvision constructors)")
    a = p.parse_args()
    if a.arch == "vit" and a.classes is None:
        a.classes = 1000
    model, vit = build_model(a)
    if vit:
        if a.channels not in (1, 3):
            sys.exit("export_model: --channels must be 1 or 3 for a ViT")
        if a.channels != 3:
            old = model.conv_proj
            model.conv_proj = torch.nn.Conv2d(a.channels, old.out_channels, old.kernel_size,
                                              stride=old.stride)
        a.size = model.image_size
        if not 14 <= a.opset <= 17:
            sys.exit("export_model: ViTs export to ONNX with --opset 14 to 17")
    if a.weights:
        try:
            sd = torch.load(a.weights, map_location="cpu")
        except Exception as e:  # noqa: BLE001 - one line for any load failure
            sys.exit(f"export_model: cannot load {a.weights}: {e}")
        if isinstance(sd, dict) and "state_dict" in sd:
            sd = sd["state_dict"]
        model.load_state_dict(sd)
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(True)
    os.makedirs(a.out, exist_ok=True)
    name = a.name or a.arch
    x = torch.zeros(1, a.channels, a.size, a.size)
    ts = os.path.join(a.out, name + ".pt")
    if a.trace:
        torch.jit.trace(model, x, check_trace=not vit).save(ts)
    else:
        torch.jit.script(model).save(ts)
    if a.no_onnx:
        print(f"wrote {ts}")
        return
    onnx = os.path.join(a.out, name + ".onnx")
    torch.onnx.export(model, x, onnx, opset_version=a.opset, input_names=["input"],
                      output_names=["logits"])
    print(f"wrote {ts} and {onnx}")


if __name__ == "__main__":
    main()
