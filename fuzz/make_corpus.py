#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/): valid files of every
format and the hostile files of the bad-input catalogue. The files are committed; this script
documents how they were made and remakes them:

    /usr/bin/python3 fuzz/make_corpus.py build/lrpbench
    /usr/bin/python3 fuzz/make_corpus.py --torchscript-graph   (that corpus only)

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
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
import lrp_reference  # noqa: E402  (FashionResNet)


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


class FashionVGG(torch.nn.Module):
    """The embedded fashion-vgg's layout (3 blocks of two 3x3 convs and a max-pool, 576 -> 128
    -> 10), randomly initialised."""

    def __init__(self):
        super().__init__()
        layers, c = [], 1
        for w in (16, 32, 64):
            for _ in range(2):
                layers += [torch.nn.Conv2d(c, w, 3, padding=1), torch.nn.ReLU()]
                c = w
            layers.append(torch.nn.MaxPool2d(2))
        self.features = torch.nn.Sequential(*layers)
        self.classifier = torch.nn.Sequential(torch.nn.Linear(576, 128), torch.nn.ReLU(),
                                              torch.nn.Dropout(), torch.nn.Linear(128, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def dropout(x: torch.Tensor) -> torch.Tensor:
    """A function of the model's own named like torch's (one argument, not four)."""
    return x


class UserDropout(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = graph_model()

    def forward(self, x):
        return dropout(self.body(x))


def graph_model(kernel=3, pool=None):
    """1 x 28 x 28 -> conv (2 channels) -> relu -> max-pool -> adaptive average -> linear."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, kernel, padding=1), torch.nn.ReLU(),
                               pool or torch.nn.MaxPool2d(2), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(2, 3)).eval()


def tiny_vit():
    """torchvision's VisionTransformer on 1 x 28 x 28: patches of 14, one layer, 2 heads,
    hidden 4, parameters requiring gradients (the decomposed attention)."""
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.VisionTransformer(28, 14, 1, 2, 4, 8, num_classes=3)
    model.conv_proj = torch.nn.Conv2d(1, 4, 14, stride=14)
    return model.eval()


def onnx_bytes(model, x, opset, dynamic=False):
    buf = io.BytesIO()
    axes = {"x": {0: "n", 2: "h", 3: "w"}} if dynamic else None
    torch.onnx.export(model, x, buf, opset_version=opset, input_names=["x"], dynamic_axes=axes)
    return buf.getvalue()


def graph_models():
    """Seeds of the graph readers: valid ONNX exports of fashion-vgg, fashion-resnet and a small
    model (opsets 9, 11, 13, a dynamic input size), ONNX files with one lie each, and TorchScript
    modules with one lie each (the bad-input catalogue's graph files, tests/test_catalogue.cpp)."""
    import onnx
    x = torch.zeros(1, 1, 28, 28)
    torch.manual_seed(0)
    put("onnx_graph", "fashion_vgg.onnx", onnx_bytes(FashionVGG().eval(), x, 13))
    torch.manual_seed(0)
    put("onnx_graph", "fashion_resnet.onnx", onnx_bytes(lrp_reference.FashionResNet().eval(), x, 11))
    for opset in (9, 11, 13, 17):
        put("onnx_graph", "small_opset%d.onnx" % opset, onnx_bytes(graph_model(), x, opset))
    put("onnx_graph", "small_dynamic.onnx", onnx_bytes(graph_model(), x, 13, dynamic=True))
    put("onnx_graph", "padded.onnx", onnx_bytes(
        torch.nn.Sequential(torch.nn.ZeroPad2d((1, 2, 0, 1)), graph_model()).eval(), x, 13))
    for opset in (14, 17):  # a tiny torchvision ViT: tokens, LayerNorm, GELU, attention
        put("onnx_graph", "vit_opset%d.onnx" % opset, onnx_bytes(tiny_vit(), x, opset))
    small = onnx.load_from_string(onnx_bytes(graph_model(), x, 13))

    def lie(name, edit):
        m = onnx.ModelProto()
        m.CopyFrom(small)
        edit(m)
        put("onnx_graph", name, m.SerializeToString())

    def conv(m):
        return [n for n in m.graph.node if n.op_type == "Conv"][0]

    def attr(node, name, values):
        for a in node.attribute:
            if a.name == name:
                node.attribute.remove(a)
                break
        node.attribute.append(onnx.helper.make_attribute(name, values))

    lie("stride0.onnx", lambda m: attr(conv(m), "strides", [0, 1]))
    lie("groups3.onnx", lambda m: attr(conv(m), "group", 3))
    lie("float_pads.onnx", lambda m: attr(conv(m), "pads", [1.0, 1.0, 1.0, 1.0]))
    lie("one_input.onnx", lambda m: conv(m).input.__delitem__(slice(1, None)))
    def huge(m):
        t = m.graph.initializer.add()
        t.name, t.data_type = "big", onnx.TensorProto.FLOAT
        t.dims.extend([4096, 4096, 4096])
    lie("huge_initializer.onnx", huge)
    lie("int_weight.onnx", lambda m: m.graph.initializer[0].CopyFrom(onnx.helper.make_tensor(
        m.graph.initializer[0].name, onnx.TensorProto.INT64, list(m.graph.initializer[0].dims),
        [1] * int(np.prod(m.graph.initializer[0].dims)))))

    # TorchScript modules, each with one lie (scripted, weights inside).
    def script(name, model):
        put("torchscript", name, torch_bytes(torch.jit.script(model), script=True))

    def edited(edit, **kw):
        m = graph_model(**kw)
        with torch.no_grad():
            edit(m)
        return m

    script("graph_valid.pt", graph_model())
    script("graph_stride0.pt", edited(lambda m: setattr(m[0], "stride", (0, 1))))
    script("graph_pool_stride0.pt", graph_model(pool=torch.nn.MaxPool2d(2, stride=0)))
    script("graph_nan.pt", edited(lambda m: m[0].weight.__setitem__((0, 0, 0, 0), float("nan"))))
    script("graph_inf_bias.pt", edited(lambda m: m[5].bias.__setitem__(0, float("inf"))))
    script("graph_bias_length.pt",
           edited(lambda m: setattr(m[0], "bias", torch.nn.Parameter(torch.zeros(5)))))
    script("graph_groups.pt", edited(lambda m: setattr(m[0], "groups", 3)))
    script("graph_kernel.pt", graph_model(kernel=40))
    script("graph_linear_features.pt",
           edited(lambda m: setattr(m[5], "weight", torch.nn.Parameter(torch.zeros(3, 7)))))

    def int_weight(m):
        del m[0].weight
        m[0].register_buffer("weight", torch.ones(2, 1, 3, 3, dtype=torch.int64))
    script("graph_int_weight.pt", edited(int_weight))
    script("graph_weight_rank.pt",
           edited(lambda m: setattr(m[0], "weight", torch.nn.Parameter(torch.zeros(2, 9)))))
    script("graph_user_dropout.pt", UserDropout())  # valid: its own dropout(x), not torch's
    # a stride-0 view: 2^30 output channels from a 4-byte storage
    script("graph_expanded.pt", edited(lambda m: setattr(m[0], "weight", torch.nn.Parameter(
        torch.zeros(1, 1, 3, 3).expand(1 << 30, 1, 3, 3), requires_grad=False))))
    script("graph_expanded_small.pt", edited(lambda m: setattr(m[0], "weight", torch.nn.Parameter(
        torch.zeros(1, 1, 3, 3).expand(1 << 16, 1, 3, 3), requires_grad=False))))


class SmallCNN(torch.nn.Module):
    """Every operation the TorchScript graph reader knows in one 1 x 28 x 28 classifier:
    conv, batch norm, relu (module and functional), max-pool, average pool, a residual add,
    adaptive average pool, flatten, dropout (functional) and linear."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.relu = torch.nn.ReLU()
        self.pool = torch.nn.MaxPool2d(2)
        self.avg = torch.nn.AvgPool2d(2)
        self.branch = torch.nn.Conv2d(4, 4, 1, bias=False)
        self.gap = torch.nn.AdaptiveAvgPool2d((1, 1))
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        x = self.pool(self.relu(self.bn(self.conv(x))))
        x = torch.nn.functional.relu(x + self.branch(x))
        x = self.gap(self.avg(x))
        x = torch.nn.functional.dropout(torch.flatten(x, 1), 0.5, self.training)
        return self.fc(x)


class ReLU(torch.nn.Module):
    """The model's own leaf module named like torch.nn.ReLU that is no ReLU (it doubles)."""

    def forward(self, x):
        return x * 2


class MaxPool2d(torch.nn.Module):
    """The model's own leaf module named like torch.nn.MaxPool2d, without its other settings."""

    def __init__(self):
        super().__init__()
        self.kernel_size = 2

    def forward(self, x):
        return torch.nn.functional.max_pool2d(x, self.kernel_size)


def torchscript_graphs():
    """Seeds of the TorchScript graph reader (fuzz_torchscript_graph): a small CNN of every
    operation it reads, scripted and traced, fashion-resnet scripted (fashion-vgg traced is left
    out: 600 KB, and libFuzzer's input size follows the largest seed), a traced sequential
    chain, leaves of the model's own named like torch.nn's, the catalogue's lying modules
    (the graph_*.pt files of the torchscript corpus, tests/test_catalogue.cpp
    Catalogue.GraphFilesTorchScript) and a class attribute without a type."""
    x = torch.zeros(1, 1, 28, 28)
    torch.manual_seed(0)
    cnn = SmallCNN().eval()
    put("torchscript_graph", "cnn_scripted.pt", torch_bytes(torch.jit.script(cnn), script=True))
    put("torchscript_graph", "cnn_traced.pt", torch_bytes(torch.jit.trace(cnn, x), script=True))
    torch.manual_seed(0)
    put("torchscript_graph", "fashion_resnet_scripted.pt",
        torch_bytes(torch.jit.script(lrp_reference.FashionResNet().eval()), script=True))
    put("torchscript_graph", "chain_traced.pt",
        torch_bytes(torch.jit.trace(graph_model(), x), script=True))
    # leaves of the model's own named like torch.nn's: followed into their graphs, not read
    # as torch.nn's (the doubling "ReLU" is refused as aten::mul; the "MaxPool2d" is valid)
    put("torchscript_graph", "user_relu.pt",
        torch_bytes(torch.jit.script(graph_model(pool=torch.nn.Sequential(ReLU(), torch.nn.MaxPool2d(2)))), script=True))
    put("torchscript_graph", "user_maxpool.pt",
        torch_bytes(torch.jit.script(graph_model(pool=MaxPool2d())), script=True))
    src = os.path.join(CORPUS, "torchscript")
    for name in sorted(os.listdir(src)):
        if name.startswith("graph_"):
            put("torchscript_graph", name, open(os.path.join(src, name), "rb").read())
    # a class attribute assigned without a type (`__paramnters__ = []`), CRCs intact: LibTorch
    # 1.13's error path for it reads memory it does not own (SEGV under ASan); refused before
    zin = zipfile.ZipFile(os.path.join(src, "graph_valid.pt"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename.endswith("modules/pooling.py"):
                data = data.replace(b"__parameters__ = []", b"__paramnters__ = []", 1)
            zout.writestr(info, data, compress_type=info.compress_type)
    put("torchscript_graph", "unannotated_constant.pt", buf.getvalue())


def graph_specs():
    """Seeds of the graph checks (fuzz/fuzz_graph_check.cpp's encoding): fashion-vgg and a
    residual block with a concatenation and padding, as node records."""
    kinds = ["conv", "linear", "relu", "maxpool", "avgpool", "adaptive", "flatten", "dropout",
             "bn", "add", "concat", "pad"]

    def i16(v):
        return struct.pack("<h", v)

    def node(kind, inputs=(0,), cin=0, cout=0, groups=1, k=(1, 1), s=(1, 1), p=(0, 0),
             d=(1, 1), out=(0, 0), pads=(), params=()):
        b = bytes([kinds.index(kind), len(inputs)]) + bytes(inputs)
        for v in (cin, cout, groups) + k + s + p + d + out:
            b += i16(v)
        b += b"\0" + i16(0) + i16(10) + bytes([len(pads)]) + b"".join(i16(v) for v in pads)
        params = list(params) + [()] * (4 - len(params))
        for dims in params:
            b += bytes([len(dims) + 1 if dims is not None and dims != () else 0])
            b += b"".join(i16(v) for v in dims or ())
        return b

    def header(c, size):
        return bytes([c]) + struct.pack("<HH", size, size)

    vgg, c = header(1, 28), 1
    for w in (16, 32, 64):
        for _ in range(2):
            vgg += node("conv", cin=c, cout=w, k=(3, 3), p=(1, 1), params=[(w, c, 3, 3), (w,)])
            vgg += node("relu")
            c = w
        vgg += node("maxpool", k=(2, 2), s=(2, 2))
    vgg += node("flatten") + node("linear", cin=576, cout=128, params=[(128, 576), (128,)])
    vgg += node("relu") + node("dropout") + node("linear", cin=128, cout=10, params=[(10, 128)])
    put("graph_check", "fashion_vgg.bin", vgg)
    res = header(3, 32)
    res += node("conv", cin=3, cout=8, k=(3, 3), p=(1, 1), params=[(8, 3, 3, 3)])  # 0
    res += node("bn", cin=8, cout=8, params=[(8,), (8,), (8,), (8,)])  # 1
    res += node("relu")  # 2
    res += node("conv", cin=8, cout=8, groups=8, k=(3, 3), p=(1, 1), params=[(8, 1, 3, 3)])
    res += node("add", inputs=(0, 1))  # 4: 3 + 2
    res += node("pad", pads=(1, 0, 0, 1))
    res += node("avgpool", k=(3, 3), s=(2, 2), p=(1, 1))  # 6
    res += node("concat", inputs=(0, 0))
    res += node("adaptive", out=(1, 1)) + node("flatten")
    res += node("linear", cin=16, cout=5, params=[(5, 16), (5,)])
    put("graph_check", "residual.bin", res)


def main():
    if sys.argv[1:] == ["--torchscript-graph"]:  # only that corpus (after the others exist)
        shutil.rmtree(os.path.join(CORPUS, "torchscript_graph"), ignore_errors=True)
        torchscript_graphs()
        return
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
    graph_models()
    torchscript_graphs()
    graph_specs()


if __name__ == "__main__":
    main()
