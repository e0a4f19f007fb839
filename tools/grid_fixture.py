#!/usr/bin/python3
"""Writes tests/fixtures/grid_rows_before_templates.txt from store dumps (`lrpbench dump RUN`).

The fixture pins the rows that the grid strategy computed before templates and strategies
existed (lrpbench 26d1367; the values re-pinned once, when single-image work units began to
break max-pool ties as batches do): for each run, the SHA-256 of its structure lines (config, params,
image and unit lines of the dump, each followed by a newline) and the values of every 7th
configuration's curves (AUC) and metric rows. The test GridRowsBeforeTemplates reruns each
preset with the same --max-units and compares.

usage: grid_fixture.py OUT PRESET MAX_UNITS DUMP [PRESET MAX_UNITS DUMP ...]
"""
import hashlib
import sys


def block(preset, max_units, dump_path):
    lines = open(dump_path).read().splitlines()
    structure = "".join(l + "\n" for l in lines
                        if l.split(" ", 1)[0] in ("config", "params", "image", "unit"))
    out = [f"run {preset} {max_units}",
           "structure " + hashlib.sha256(structure.encode()).hexdigest()]
    for l in lines:
        kind = l.split(" ", 1)[0]
        if kind not in ("curve", "metric"):
            continue
        fields = l.split(" ")
        config = int(fields[1])
        if config % 7:
            continue
        kv = dict(f.split("=", 1) for f in fields[2:])
        if kind == "curve":
            out.append(f"curve {config} {kv['image']} {kv['order']} {kv['auc']}")
        else:
            out.append(f"metric {config} {kv['image']} {kv['metric']} {kv['value']}")
    return out


def main():
    args = sys.argv[1:]
    out = ["# Rows of the grid strategy before templates (lrpbench 26d1367), by tools/grid_fixture.py;",
           "# values re-pinned when an image's relevance stopped depending on its batch (batch-invariant",
           "# convolutions: max-pool ties break alike in every batch); the structure lines are 26d1367's."]
    for i in range(1, len(args), 3):
        out += block(args[i], args[i + 1], args[i + 2])
    open(args[0], "w").write("\n".join(out) + "\n")


main()
