#!/usr/bin/env python3
"""Plots of `foresight eval --json FILE --traces` results (PNG, matplotlib).

    .venv/bin/python Tools/plot_results.py results/test.json --out docs/img/results [--prefix test-]

Writes, per predictor in the file:
  <prefix>topk.png          beam top-1 (solid) and top-3 (dashed) accuracy vs horizon step
  <prefix>ade.png           mean position error vs horizon step
  <prefix>position-cdf.png  CDF of the position error over every scored step
  <prefix>beam-mismatch.png histogram of predicted − true best beam index (first and last step)
  <prefix>beam-trace.png    one drive's predicted best beam (first step) over time vs the truth
Variants with a modality dropped (ablations) are left out of the plots.
"""
import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def predictors(result):
    return [p for p in result["predictors"] if not p.get("dropped")]


def step_values(report, key):
    return [s.get(key) if s.get(key) is not None else math.nan for s in report["steps"]]


def traces(p):
    return [d["trace"] for d in p["drives"] if d.get("trace")]


def plot_topk(result, path, step_ms):
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for i, p in enumerate(predictors(result)):
        steps = p["overall"]["steps"]
        x = [(s["step"] + 1) * step_ms for s in steps]
        color = f"C{i}"
        ax.plot(x, step_values(p["overall"], "top1"), "-o", color=color, label=f"{p['name']} top-1")
        ax.plot(x, step_values(p["overall"], "top3"), "--s", color=color, label=f"{p['name']} top-3")
    ax.set_xlabel("horizon (ms)")
    ax.set_ylabel("beam accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Beam prediction accuracy vs horizon")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_ade(result, path, step_ms):
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for i, p in enumerate(predictors(result)):
        steps = p["overall"]["steps"]
        x = [(s["step"] + 1) * step_ms for s in steps]
        ax.plot(x, step_values(p["overall"], "positionErrorM"), "-o", color=f"C{i}", label=p["name"])
    ax.set_xlabel("horizon (ms)")
    ax.set_ylabel("mean position error (m)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Position error vs horizon")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_cdf(result, path):
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for i, p in enumerate(predictors(result)):
        errors = [e for t in traces(p) for row in t["positionError"] for e in row if e is not None]
        if not errors:
            continue
        e = np.sort(np.asarray(errors))
        ax.plot(e, np.arange(1, len(e) + 1) / len(e), color=f"C{i}", label=f"{p['name']} (median {np.median(e):.2f} m)")
    ax.set_xlabel("position error (m)")
    ax.set_ylabel("fraction of steps")
    ax.set_xlim(left=0)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("CDF of the position error (all steps)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_mismatch(result, path):
    ps = predictors(result)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for col, (label, index) in enumerate([("first step", 0), ("last step", -1)]):
        ax = axes[col]
        for i, p in enumerate(ps):
            diffs = [row_b[index] - row_t[index] for t in traces(p) for row_b, row_t in zip(t["beam"], t["truthBeam"])
                     if row_t and row_t[index] >= 0]
            if not diffs:
                continue
            bins = np.arange(-10.5, 11.5, 1)
            clipped = np.clip(diffs, -10, 10)
            ax.hist(clipped, bins=bins, histtype="step", linewidth=1.5, color=f"C{i}", label=p["name"], density=True)
        ax.set_title(f"predicted − true beam ({label})")
        ax.set_xlabel("beam index difference (clipped at ±10)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("fraction")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_trace(result, path):
    ps = [p for p in predictors(result) if traces(p)]
    if not ps:
        return
    first = ps[0]["drives"][0]
    t0 = first["trace"]["stamp"][0] if first["trace"]["stamp"] else 0
    fig, ax = plt.subplots(figsize=(9, 4))
    truth_t = [(s - t0) / 1e9 for s in first["trace"]["stamp"]]
    truth_b = [row[0] if row and row[0] >= 0 else math.nan for row in first["trace"]["truthBeam"]]
    ax.plot(truth_t, truth_b, "k-", linewidth=1.2, drawstyle="steps-post", label="truth (best beam)")
    for i, p in enumerate(ps):
        drive = next((d for d in p["drives"] if d["drive"] == first["drive"]), None)
        if drive is None:
            continue
        t = [(s - t0) / 1e9 for s in drive["trace"]["stamp"]]
        b = [row[0] for row in drive["trace"]["beam"]]
        ax.plot(t, b, ".", markersize=3, color=f"C{i}", label=p["name"])
    ax.set_xlabel("time (s), target stamp of the first step")
    ax.set_ylabel("beam index")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, markerscale=3)
    ax.set_title(f"Predicted best beam (+1 step) on drive {first['drive']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_all(result, out: Path, prefix="", step_ms=100.0):
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "topk": out / f"{prefix}topk.png",
        "ade": out / f"{prefix}ade.png",
        "cdf": out / f"{prefix}position-cdf.png",
        "mismatch": out / f"{prefix}beam-mismatch.png",
        "trace": out / f"{prefix}beam-trace.png",
    }
    plot_topk(result, files["topk"], step_ms)
    plot_ade(result, files["ade"], step_ms)
    plot_cdf(result, files["cdf"])
    plot_mismatch(result, files["mismatch"])
    plot_trace(result, files["trace"])
    return {k: v for k, v in files.items() if v.exists()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("result", type=Path, help="JSON written by foresight eval --json FILE --traces")
    ap.add_argument("--out", type=Path, default=Path("docs/img/results"))
    ap.add_argument("--prefix", default="")
    ap.add_argument("--step-ms", type=float, default=100.0)
    args = ap.parse_args()
    result = json.loads(args.result.read_text())
    for name, path in plot_all(result, args.out, args.prefix, args.step_ms).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
