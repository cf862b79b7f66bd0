#!/usr/bin/env python3
"""The last step of `make train`: score the freshly trained models beside the classical predictor and
persistence with `foresight eval`, on a few simulated drives that neither training nor validation can
use: seeds from 1020 up are `unused` by the dataset's split rule (docs/dataset.md).

    .venv/bin/python Tools/training/eval_summary.py --seeds 1020..1022 --duration 60 --out runs/train/eval

A quick look only (a handful of drives, no intervals); the acceptance figures on the 20 test drives
and the held-out scenario come from `make results` (docs/results.md). The predictors and their launch
files are the ones `make results` uses (Tools/results.py: classical, persistence, models/*).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tools"))
import results  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="1020..1022", help="simulation seeds A..B (1020 and up: never in a dataset split)")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--out", type=Path, default=ROOT / "runs/train/eval")
    ap.add_argument("--binary", type=Path, default=ROOT / ".build/release/foresight")
    ap.add_argument("--scenario", type=Path, default=ROOT / "launch/scenarios/street.yaml")
    args = ap.parse_args()
    a, _, b = args.seeds.partition("..")
    lo, hi = int(a), int(b or a)
    if lo <= 1019 and hi >= 1000:
        print("eval_summary: seeds 1000-1019 are the test drives; score them with `make results`", file=sys.stderr)
        return 2
    if lo < 1000:
        print("eval_summary: note: seeds below 1000 may be training drives of the dataset", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    launches = results.discover(args.out)
    results.run_eval(args.binary, launches, args.scenario, args.seeds, args.duration, args.out / "eval.json")
    print(f"eval_summary: scores in {args.out / 'eval.json'}; test drives and held-out scenario: make results")
    return 0


if __name__ == "__main__":
    sys.exit(main())
