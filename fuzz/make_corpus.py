#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/): valid files of every
format and the hostile files of the bad-input catalogue. The files are committed; this script
documents how they were made and remakes them:

    /usr/bin/python3 fuzz/make_corpus.py build/lrpbench

It needs Debian's python3-torch (for .pth and TorchScript files) and python3-pil, and the built
lrpbench (for a small results.sqlite). Every file stays small (libFuzzer's input size follows
the largest seed).
"""
import collections
import io
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
from convert_weights import write_safetensors  # noqa: E402


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def torch_bytes(obj, script=False):
    buf = io.BytesIO()
    if script:
        torch.jit.save(obj, buf)
    else:
        torch.save(obj, buf)
    return buf.getvalue()


def small_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(2 * 2 * 2, 3)).eval()


def zips():
    m = small_model()
    sd = m.state_dict()
    plain = torch_bytes(dict(sd))
    ordered = torch_bytes(sd)
    nested = torch_bytes({"state_dict": sd, "epoch": 3})
    view = torch_bytes({"w": torch.arange(12.0).reshape(3, 4)[:, 1:3], "h": torch.ones(2).half()})
    script = torch_bytes(torch.jit.script(m), script=True)
    traced = torch_bytes(torch.jit.trace(m, torch.zeros(1, 1, 4, 4)), script=True)
    for name, data in [("plain.pth", plain), ("ordered.pth", ordered), ("nested.pth", nested),
                       ("view.pth", view)]:
        put("pth", name, data)
        put("zip", name, data)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
            put("pickle", name.replace(".pth", ".pkl"), z.read(pkl))
    put("pth", "truncated.pth", ordered[: len(ordered) // 2])
    put("pth", "script.pt", script)
    for name, data in [("script.pt", script), ("traced.pt", traced)]:
        put("torchscript", name, data)
        put("zip", name, data)
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for n in z.namelist():
                if n.endswith("constants.pkl") or n.endswith("/data.pkl"):
                    put("pickle", name + "." + os.path.basename(n), z.read(n))
    put("torchscript", "truncated.pt", script[: len(script) * 2 // 3])
    put("torchscript", "plain.pth", plain)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        z.writestr("archive/notes.txt", "a deflated entry " * 50)
    put("zip", "deflated.zip", buf.getvalue())
    put("pth", "deflated.zip", buf.getvalue())
    # Hostile pickles: BININT2, deep nesting, a self-referencing list, a storage that claims
    # terabytes, a GLOBAL naming os.system.
    put("pickle", "binint2.pkl", b"\x80\x02M\x34\x12.")
    put("pickle", "deep.pkl", b"\x80\x02]" + b"]a" * 2000 + b".")
    put("pickle", "self.pkl", b"\x80\x02]q\x00h\x00a.")
    put("pickle", "terabytes.pkl",
        b"\x80\x02(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000"
        b"X\x03\x00\x00\x00cpu\x8a\x06\x00\x00\x00\x00\x00\x01tQ.")
    put("pickle", "system.pkl", b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.")


def safetensors():
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "s.safetensors")
    write_safetensors(path, collections.OrderedDict(
        [("features.0.weight", torch.ones(2, 1, 3, 3)), ("features.0.bias", torch.zeros(2))]))
    put("safetensors", "valid.safetensors", open(path, "rb").read())
    shutil.rmtree(tmp)

    def st(header):
        h = header.encode()
        return struct.pack("<Q", len(h)) + h + bytes(64)
    cases = {
        "negative": '{"a":{"dtype":"F32","shape":[-16,1],"data_offsets":[0,64]}}',
        "huge": '{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,64]}}',
        "overlap": '{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},'
                   '"b":{"dtype":"F32","shape":[8],"data_offsets":[16,48]}}',
        "fractional": '{"a":{"dtype":"F32","shape":[8],"data_offsets":[0.5,32.5]}}',
        "duplicate": '{"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},'
                     '"a":{"dtype":"F32","shape":[8],"data_offsets":[32,64]}}',
        "metadata": '{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[4],'
                    '"data_offsets":[0,8]}}',
    }
    for name, header in cases.items():
        put("safetensors", name + ".safetensors", st(header))


def npy():
    for name, arr in [("f4.npy", np.arange(6, dtype=np.float32).reshape(1, 2, 3)),
                      ("f8.npy", np.ones((2, 1, 2, 2))), ("scalar.npy", np.float32(3)),
                      ("n0.npy", np.zeros((0, 1, 28, 28), np.float32))]:
        buf = io.BytesIO()
        np.save(buf, arr)
        put("npy", name, buf.getvalue())

    def raw(d, n):
        h = d + " " * ((64 - (10 + len(d) + 1) % 64) % 64) + "\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + bytes(n)
    put("npy", "negative.npy", raw("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 2), }", 0))
    put("npy", "huge.npy", raw("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }", 0))
    put("npy", "fortran.npy", raw("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16))


def idx():
    images = struct.pack(">IIII", 2051, 2, 28, 28) + bytes(range(256)) * 6 + bytes(32)
    put("idx", "images.idx3", images)
    put("idx", "labels.idx1", struct.pack(">II", 2049, 3) + bytes([9, 0, 3]))
    put("idx", "lying.idx3", struct.pack(">IIII", 2051, 0xFFFFFFFF, 28, 28))


def experiments():
    small = """[model]
name = "fashion-vgg"
[data]
dataset = "fashion-mnist"
class = 9
count = 4
[[family]]
name = "tutorial"
values = "log(-2,0,2)+0"
[[family]]
name = "decreasing-gamma"
values = [0, 0.1, 1]
[reference]
points = ["tutorial(0.25,0.25)", "decreasing-gamma", "zero"]
[pf]
orders = ["morf", "lrf", "random"]
patch = 2
mode = "telea"
schedule = "quadratic"
[run]
seed = 0
batch = 64
[auc]
kind = "auc"
"""
    put("experiment", "small.toml", small)
    put("experiment", "vgg16.toml", """[model]
name = "vgg16"
weights = "vgg16.safetensors"
[data]
imagenet = "val"
class = "n01632777"
count = 50
resize = "224"
[[family]]
name = "tutorial"
values1 = [0, 0.25]
values2 = "log(-4,0,15)+0"
[pf]
preset = "thesis"
patch = 8
[auc]
kind = "aopc"
""")
    put("experiment", "flat.toml", '[data]\nfolder = "val"\nlabels = "LOC_val_solution.csv"\n'
        'target = "argmax"\n[reference]\npoints = ["zero"]\n[pf]\nmode = "constant"\nfill = "mean"\n'
        'schedule = "list:1,2,3"\nscore = "prob"\npatch_reduce = "luma"\n')
    put("experiment", "both.toml", small.replace('values = [0, 0.1, 1]', 'values = [0]\nvalues1 = [1]'))
    put("experiment", "empty_orders.toml", small.replace('["morf", "lrf", "random"]', '[]'))
    put("experiment", "bad.toml", "[data\nx = = 1\n")


def composites():
    for i, text in enumerate([
            "tutorial", "tutorial(0.1,0.5)", "decreasing-gamma", "decreasing-gamma(0.3,0.01)",
            "decreasing-gamma-reference", "uniform(epsilon(0.1,stab=quadratic))", "zero(stab=none)",
            "alphabeta(2,1)", "zplus", "flat", "wsquare",
            "0:zbox;1-16:gamma(0.25);17-30:epsilon(0.25,stab=quadratic);31-:zero",
            "0:flat;2-:gamma(1e-4,stab=vanilla);15:epsilon(0,stab=reference)",
            "tutorial(0.1,", "4-2:zero", "999:zero", "0:gamma(-1)", "alphabeta(3,1)",
            "epsilon-gamma-box(0.5,0.01)", "epsilon-plus-flat", "epsilon-alpha2-beta1(0.1)",
            "@all:epsilon(0.1);@conv:gamma(0.25);@first:zbox;layer1.*:epsilon(0.25);fc:zero",
            "conv1..layer1.0.add:zplus;@bn:pass;layer?.0.conv*:flat", "n2..n7:zero;@add:gamma"]):
        put("composite", "c%02d.txt" % i, text)


def loc_csv():
    put("loc_csv", "valid.csv", "ImageId,PredictionString\r\n"
        "ILSVRC2012_val_00000001,n01751748 111 0 499 329 n01751748 1 2 3 4 \r\n"
        "ILSVRC2012_val_00000002,n09193705 1 2 3 4\r\n")
    put("loc_csv", "unknown.csv", "ImageId,PredictionString\ndog,n99999999 1 2 3 4\n")
    put("loc_csv", "twice.csv", "a,n01632777 1\na,n02980441 1\n")


def images():
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8))
    for name, kw in [("rgb.png", {"format": "PNG"}), ("rgb.jpg", {"format": "JPEG", "quality": 80}),
                     ("progressive.jpg", {"format": "JPEG", "quality": 60, "progressive": True})]:
        buf = io.BytesIO()
        img.save(buf, **kw)
        put("image_header", name, buf.getvalue())
        if name == "rgb.jpg":
            put("image_header", "truncated.jpg", buf.getvalue()[: len(buf.getvalue()) // 2])
    buf = io.BytesIO()
    img.convert("L").save(buf, format="PNG")
    put("image_header", "gray.png", buf.getvalue())
    ihdr = struct.pack(">II", 100000, 100000) + b"\x08\x02\x00\x00\x00"
    put("image_header", "giant.png", b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr +
        bytes(4) + bytes(4) + b"IEND" + bytes(4))


def store(lrpbench):
    tmp = tempfile.mkdtemp()
    exp = os.path.join(tmp, "tiny.toml")
    with open(exp, "w") as f:
        f.write('[data]\ndataset = "fashion-mnist"\nclass = 9\ncount = 1\n[[family]]\n'
                'name = "tutorial"\nvalues = [0, 1]\n[reference]\npoints = ["zero"]\n'
                '[pf]\norders = ["morf"]\npatch = 7\n')
    run = os.path.join(tmp, "run")
    subprocess.run([lrpbench, "search", exp, "--out", run, "--threads", "1"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = os.path.join(tmp, "small.sqlite")
    src = sqlite3.connect(os.path.join(run, "results.sqlite"))
    dst = sqlite3.connect(db)
    src.backup(dst)
    src.close()
    dst.execute("PRAGMA journal_mode=DELETE")
    dst.execute("PRAGMA page_size=512")
    dst.execute("VACUUM")
    dst.close()
    data = open(db, "rb").read()
    put("store", "valid.sqlite", data)
    for name, statement in [("orphan.sqlite", "UPDATE curves SET config_id = 99 WHERE rowid = 1"),
                            ("nodefinition.sqlite", "DELETE FROM meta"),
                            ("noconfigs.sqlite", "DROP TABLE configs"),
                            ("nanauc.sqlite", "UPDATE curves SET auc = 'nan'")]:
        path = os.path.join(tmp, name)
        shutil.copy(db, path)
        c = sqlite3.connect(path)
        c.execute(statement)
        c.commit()
        c.execute("VACUUM")
        c.close()
        put("store", name, open(path, "rb").read())
    put("store", "truncated.sqlite", data[: len(data) // 2])
    shutil.rmtree(tmp)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    shutil.rmtree(CORPUS, ignore_errors=True)
    zips()
    safetensors()
    npy()
    idx()
    experiments()
    composites()
    loc_csv()
    images()
    store(os.path.abspath(sys.argv[1]))


if __name__ == "__main__":
    main()
