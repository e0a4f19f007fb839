#!/usr/bin/python3
"""Converts PyTorch weights lrpbench cannot read (legacy pre-1.6 .pth files, pickled whole
models, checkpoints with nested state dicts) into a format it reads.

Usage: /usr/bin/python3 tools/convert_weights.py IN.pth OUT.safetensors|OUT.pth

OUT.safetensors is written by hand (Debian has no Python safetensors package);
OUT.pth is a zip-format torch.save of a plain dict of tensors.
Uses Debian's python3-torch; nothing is downloaded.
"""
import json
import struct
import sys

import torch


def state_dict_of(obj):
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], (dict, torch.nn.Module)):
                return state_dict_of(obj[key])
        return obj
    raise SystemExit(f"convert_weights: {sys.argv[1]}: no state dict found (got {type(obj).__name__})")


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for key, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).cpu().numpy().tobytes()
        header[key] = {"dtype": "F32", "shape": list(t.shape),
                       "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    try:
        obj = torch.load(src, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - report any load failure in one line
        raise SystemExit(f"convert_weights: cannot load {src}: {e}")
    sd = {k: v for k, v in state_dict_of(obj).items()
          if isinstance(v, torch.Tensor) and not k.endswith("num_batches_tracked")}
    if dst.endswith(".safetensors"):
        write_safetensors(dst, sd)
    elif dst.endswith(".pth") or dst.endswith(".pt"):
        torch.save(dict(sd), dst)
    else:
        raise SystemExit("convert_weights: OUT must end in .safetensors or .pth")
    print(f"wrote {dst} ({len(sd)} tensors)")


if __name__ == "__main__":
    main()
