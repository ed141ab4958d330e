#!/usr/bin/env python3
"""Compares `nodeipc bench --json` runs of two builds, cell by cell.

    scripts/bench-compare.py old1.json,old2.json new1.json,new2.json

Each side may be several runs (comma-separated); a cell's value is the
median of its runs (msgs/s for throughput, p50 for round trips). Prints one
line per cell of the Rust pairs: old, new, and new/old as "speed" (above 1:
the new build is faster; for round trips, old p50 / new p50).
"""
import json
import statistics
import sys


def load(paths):
    cells = {}
    for path in paths.split(","):
        for r in json.load(open(path))["results"]:
            if r["pair"] not in ("rust-rust", "rust-node"):
                continue
            key = (r["serialization"], r["mode"], r.get("direction") or "", r["size"],
                   "pinned" if r.get("pinned") else "", r["pair"])
            if r["mode"] == "roundtrip":
                value = r.get("p50Us") or r.get("p50")
            else:
                value = r.get("msgsPerSec")
            if value:
                cells.setdefault(key, []).append(value)
    return {k: statistics.median(v) for k, v in cells.items()}


def main():
    old, new = load(sys.argv[1]), load(sys.argv[2])
    ratios = []
    for key in sorted(old.keys() & new.keys()):
        o, n = old[key], new[key]
        roundtrip = key[1] == "roundtrip"
        speed = o / n if roundtrip else n / o
        ratios.append(speed)
        unit = "p50 µs" if roundtrip else "msgs/s"
        print(f"{' '.join(k for k in key if k):45} {o:12.1f} {n:12.1f} {unit:7} {speed:5.2f}×")
    if ratios:
        print(f"geometric mean of new/old speed over {len(ratios)} cells: "
              f"{statistics.geometric_mean(ratios):.3f}×")


if __name__ == "__main__":
    main()
