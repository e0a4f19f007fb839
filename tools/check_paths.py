#!/usr/bin/env python3
"""Fails when a tracked file refers to a path outside the repository.

A plain clone must build, test and document itself with nothing beside it: no relative path
may climb above the repository's root, and no absolute path may point anywhere but system
locations (what Debian packages install or the kernel provides, e.g. /usr/share, /dev/null,
/tmp). Run from anywhere: `python3 tools/check_paths.py [ROOT]`; exit 1 lists the offenders.
"""
import os
import re
import subprocess
import sys

# First components of absolute paths that are system locations (or deliberately missing
# files in tests: /nonexistent...).
SYSTEM = {
    "usr", "etc", "dev", "proc", "sys", "tmp", "bin", "sbin", "lib", "lib32", "lib64", "var",
    "opt", "run", "nonexistent",
}
# ONNX node names are scoped like paths ("/layer1/layer1.0/conv1/Conv"); they end in an
# operator's name.
ONNX_OPS = {
    "Conv", "Gemm", "MatMul", "BatchNormalization", "Relu", "Clip", "MaxPool", "AveragePool",
    "GlobalAveragePool", "ReduceMean", "Flatten", "Reshape", "Add", "Concat", "Identity",
    "Dropout", "Constant", "Pad", "Sigmoid", "Mul",
}
PATH_CHARS = r"[A-Za-z0-9_.\-/]"
# A relative path that climbs: one or more "../" (or a trailing "..").
CLIMB = re.compile(r"(?<![A-Za-z0-9_.\-])(/?(?:\.\./)+" + PATH_CHARS + r"*|/?\.\.(?=[\s\"')`]|$))")
# An absolute path of at least two components, not part of a URL, a word or a longer path.
ABSOLUTE = re.compile(r"(?<![A-Za-z0-9_.\-~$}\])>:/\\])(/[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]*)+)")
# In code, a literal that is appended to something (`dir + "/x/y"`) is a suffix, not a path.
SUFFIX = re.compile(r"(\+|<<)\s*$")
# What a "/.." climbs from when it follows the repository root itself.
ROOTED = re.compile(
    r"(source_dir\(\)|LRPBENCH_SOURCE_DIR|(?<!CURRENT_)CMAKE_SOURCE_DIR|show-toplevel)[^;]{0,12}$")


def tracked_files(root):
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                             capture_output=True).stdout
        return [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(root):
            dirs[:] = [x for x in dirs if not x.startswith(".") and not x.startswith("build")]
            files += [os.path.relpath(os.path.join(d, n), root) for n in names]
        return files


def offenders(root, rel):
    path = os.path.join(root, rel)
    try:
        if os.path.getsize(path) > 2 << 20:
            return []
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    if b"\0" in data:
        return []  # binary
    text = data.decode("utf-8", "replace")
    here = os.path.dirname(rel)
    found = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in CLIMB.finditer(line):
            token = m.group(1)
            # "X/../y" climbs from X: the file's folder, or the root where X names it.
            base = "" if token.startswith("/") and ROOTED.search(line[: m.start()]) else here
            resolved = os.path.normpath(os.path.join(base, token.lstrip("/")))
            if resolved == ".." or resolved.startswith("../"):
                found.append((lineno, token))
        for m in ABSOLUTE.finditer(line):
            token = m.group(1)
            first = token.split("/")[1]
            if first in SYSTEM or SUFFIX.search(line[: max(0, m.start() - 1)]):
                continue
            if token.split("/")[-1] in ONNX_OPS:
                continue  # an ONNX node's scoped name
            found.append((lineno, token))
    return [(rel, n, t) for n, t in found]


def self_test():
    """The checker finds what it must and nothing else (run by CI before the real check)."""
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        files = {
            "README.md": "See [the spec](../elsewhere/SPEC.md) and docs/method.md.\n",
            "tests/t.cpp": 'auto p = test::source_dir() + "/../elsewhere/data/castle.jpg";\n'
                           'auto q = dir + "/report/index.html"; std::cout << "/a/b";\n'
                           'auto r = "/usr/share/darknet/data/dog.jpg"; // https://x.org/a/b\n',
            "scripts/s.sh": 'cd "$(dirname "$0")/.."\ncp /work/elsewhere/data/x.jpg .\n',
            "fuzz/CMakeLists.txt": "set(ROOT ${CMAKE_CURRENT_SOURCE_DIR}/..)\n"
                                   "set(BAD ${CMAKE_SOURCE_DIR}/../outside)\n",
            "docs/d.md": "[ok](../README.md) [bad](../../elsewhere.md) /tmp/x/y /home/me/f\n"
                         "ONNX name `/layer1/layer1.0/Add`\n",
        }
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)) or root, exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        found = sorted((rel, token) for rel in files for rel, _, token in offenders(root, rel))
        expected = sorted([("README.md", "../elsewhere/SPEC.md"),
                           ("tests/t.cpp", "/../elsewhere/data/castle.jpg"),
                           ("scripts/s.sh", "/work/elsewhere/data/x.jpg"),
                           ("docs/d.md", "../../elsewhere.md"),
                           ("docs/d.md", "/home/me/f"),
                           ("fuzz/CMakeLists.txt", "/../outside")])
        if found != expected:
            print(f"check_paths self-test failed: found {found}, expected {expected}")
            return False
    return True


def main():
    if not self_test():
        return 1
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    bad = []
    for rel in tracked_files(root):
        # .gitignore holds patterns, not paths; this file's self-test holds the bad examples.
        if os.path.basename(rel) != ".gitignore" and rel != "tools/check_paths.py":
            bad += offenders(root, rel)
    for rel, n, token in bad:
        print(f"{rel}:{n}: refers to '{token}', outside the repository")
    if bad:
        print(f"{len(bad)} reference(s) outside the repository", file=sys.stderr)
        return 1
    print("check_paths: no tracked file refers outside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main())
