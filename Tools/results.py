#!/usr/bin/env python3
"""`make results`: every predictor through `foresight eval` on the test drives and the held-out
scenario, 95 % bootstrap intervals over drives, pass/fail against issue 10's acceptance,
docs/results.md with tables and plots (docs/img/results/).

    .venv/bin/python Tools/results.py run                 # evaluate (release build) + report
    .venv/bin/python Tools/results.py report              # report again from results/*.json
    .venv/bin/python Tools/results.py run --seeds 1000..1001 --duration 10 --heldout-seeds 1000..1000   # smoke run

Predictors: classical, persistence, and one per model folder under models/ (config.json format
foresight-multitask → kind learned, foresight-gru → kind gru), all on the front end of
launch/sim-learned.yaml (one preprocessing pass per frame for all of them). The learned model is the folder named
`foresight-learned` (or the only multitask folder). Exit status 0 even when a criterion fails (the
report says which); non-zero only when something could not be run.
"""
import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Tools"))
import plot_results  # noqa: E402

MODALITIES = ["camera", "radar", "lidar", "gnss", "beam_power"]
# metric key → (label, higher is better)
METRICS = {
    "top1": ("beam top-1", True),
    "top3": ("beam top-3", True),
    "ade": ("ADE (m)", False),
    "rmse": ("power RMSE (dB)", False),
    "f1": ("blockage F1", True),
}


# ----------------------------------------------------------------------------------------------
# Launch files and evaluation runs


def yaml_text(path: Path) -> str:
    return path.read_text()


def write_launch(base: Path, out: Path, name: str, kind: str, model: Path | None, blas_threads: int = 1) -> Path:
    """A copy of `base` with another name and predictor kind (paths made absolute). One BLAS thread:
    `run` evaluates the test drives and the held-out scenario at the same time, one process per core."""
    import yaml  # pyyaml is in .venv (Tools/setup.sh)

    data = yaml.safe_load(base.read_text())
    data["name"] = name
    data["site"] = str((base.parent / data["site"]).resolve())
    pred = dict(data.get("predictor") or {})
    pred["kind"] = kind
    pred["blas_threads"] = blas_threads
    if model is not None:
        pred["model"] = str(model.resolve())
    else:
        pred.pop("model", None)
    data["predictor"] = pred
    path = out / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def discover(out: Path):
    """(name, launch path, kind) of every predictor to compare."""
    launches = out / "launch"
    launches.mkdir(parents=True, exist_ok=True)
    learned_base = ROOT / "launch/sim-learned.yaml"
    # Every predictor on the learned model's front end: the baselines do not read the camera tensor,
    # and one shared front end means each frame is synchronized and preprocessed once for all.
    base = learned_base if learned_base.exists() else ROOT / "launch/sim.yaml"
    found = [("classical", write_launch(base, launches, "classical", "classical-ctrv", None), "classical-ctrv"),
             ("persistence", write_launch(base, launches, "persistence", "persistence", None), "persistence")]
    models = sorted(p.parent for p in (ROOT / "models").glob("*/config.json"))
    multitask = []
    for folder in models:
        try:
            cfg = json.loads((folder / "config.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            print(f"results: skipping {folder}: {e}", file=sys.stderr)
            continue
        kind = {"foresight-multitask": "learned", "foresight-gru": "gru"}.get(cfg.get("format"))
        if kind is None:
            print(f"results: skipping {folder}: format {cfg.get('format')!r}", file=sys.stderr)
            continue
        if kind == "learned":
            multitask.append(folder)
        name = "learned" if folder.name == "foresight-learned" else ("gru" if folder.name == "foresight-gru" else folder.name)
        found.append((name, write_launch(learned_base, launches, name, kind, folder), kind))
    if "learned" not in [f[0] for f in found] and len(multitask) == 1:
        found = [("learned", p, k) if n == multitask[0].name else (n, p, k) for n, p, k in found]
    return found


def eval_command(binary: Path, launches, scenario: Path, seeds: str, duration: float, out_json: Path, ablate=None):
    cmd = [str(binary), "eval", "--sim", "--seeds", seeds, "--duration", str(duration), "--scenario", str(scenario),
           "--json", str(out_json), "--traces"]
    for _, path, _ in launches:
        cmd += ["--launch", str(path)]
    if ablate:
        cmd += ["--ablate", ablate]
    return cmd


def run_eval(binary: Path, launches, scenario: Path, seeds: str, duration: float, out_json: Path, ablate=None):
    cmd = eval_command(binary, launches, scenario, seeds, duration, out_json, ablate)
    print("results: " + " ".join(cmd), flush=True)
    start = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.time() - start


def run_evals(jobs: list[tuple[str, list[str]]]) -> dict[str, float]:
    """Several `foresight eval` commands at once (each is one pipeline thread plus one BLAS thread, so the
    test drives and the held-out scenario share the 2-core machine); their output goes to `<json>.log`.
    Returns each job's wall seconds; raises if any failed, naming its log."""
    procs = {}
    start = time.time()
    for name, cmd in jobs:
        log = Path(cmd[cmd.index("--json") + 1]).with_suffix(".log")
        print(f"results: [{name}] " + " ".join(cmd) + f"  (output: {log})", flush=True)
        procs[name] = (subprocess.Popen(cmd, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT), log)
    seconds, failed = {}, []
    for name, (proc, log) in procs.items():
        if proc.wait() != 0:
            failed.append(f"{name} (exit {proc.returncode}; see {log})")
        seconds[name] = time.time() - start
        print(f"results: [{name}] finished after {seconds[name]:.0f} s", flush=True)
    if failed:
        raise SystemExit("results: evaluation failed: " + ", ".join(failed))
    return seconds


# ----------------------------------------------------------------------------------------------
# Statistics: bootstrap over drives


def drive_parts(drive_report, step=None):
    """Numerator/denominator of each metric for one drive (pooled over steps, or one step)."""
    row = drive_report["overall"] if step is None else (drive_report["steps"][step] if step < len(drive_report["steps"]) else None)
    parts = {}
    if row is None:
        return {k: (0.0, 0.0) for k in METRICS}
    n = row["beamSamples"]
    parts["top1"] = ((row["top1"] or 0) * n, n)
    parts["top3"] = ((row["top3"] or 0) * n, n)
    if step is None:
        m = drive_report.get("adeSets", 0)
        parts["ade"] = ((drive_report.get("adeM") or 0) * m, m)   # absent: no position known (e.g. GNSS dropped)
    else:
        m = row["positionSamples"]
        parts["ade"] = ((row.get("positionErrorM") or 0) * m, m)
    k = row["powerSamples"]
    parts["rmse"] = (((row.get("powerRMSEDB") or 0) ** 2) * k, k)
    b = row["blockage"]
    parts["f1"] = (2 * b["tp"], 2 * b["tp"] + b["fp"] + b["fn"])
    return parts


def pooled(parts, weights, metric):
    num = np.array([p[metric][0] for p in parts])
    den = np.array([p[metric][1] for p in parts])
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (weights @ num) / (weights @ den)
    return np.sqrt(v) if metric == "rmse" else v


def bootstrap(result, a_name, b_name, resamples=10000, seed=0):
    """Point estimate and 95 % interval of the improvement of a over b for every metric
    (a − b for higher-is-better metrics, b − a for errors), resampling drives with replacement."""
    pa = next(p for p in result["predictors"] if p["name"] == a_name)
    pb = next(p for p in result["predictors"] if p["name"] == b_name)
    drives_a = {d["drive"]: d["report"] for d in pa["drives"]}
    drives_b = {d["drive"]: d["report"] for d in pb["drives"]}
    names = [d for d in result["drives"] if d in drives_a and d in drives_b]
    parts_a = [drive_parts(drives_a[d]) for d in names]
    parts_b = [drive_parts(drives_b[d]) for d in names]
    rng = np.random.default_rng(seed)
    n = len(names)
    w = rng.multinomial(n, [1.0 / n] * n, size=resamples).astype(float)
    ones = np.ones((1, n))
    out = {}
    for metric, (_, higher) in METRICS.items():
        sign = 1.0 if higher else -1.0
        point = sign * (pooled(parts_a, ones, metric)[0] - pooled(parts_b, ones, metric)[0])
        diffs = sign * (pooled(parts_a, w, metric) - pooled(parts_b, w, metric))
        diffs = diffs[np.isfinite(diffs)]
        lo, hi = (np.percentile(diffs, [2.5, 97.5]) if len(diffs) else (math.nan, math.nan))
        out[metric] = {"point": float(point), "lo": float(lo), "hi": float(hi)}
    return out


def per_step(result, name, metric):
    p = next(p for p in result["predictors"] if p["name"] == name)
    steps = len(p["overall"]["steps"])
    values = []
    for s in range(steps):
        sp = [drive_parts(d["report"], step=s) for d in p["drives"]]
        values.append(float(pooled(sp, np.ones((1, len(sp))), metric)[0]))
    return values


# ----------------------------------------------------------------------------------------------
# Report


def fmt(v, digits=3):
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def summary_table(result):
    lines = ["| predictor | frames | top-1 | top-3 | power loss (dB) | ADE (m) | FDE (m) | power RMSE / MAE (dB) | blockage acc / prec / rec / F1 | frames/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for p in result["predictors"]:
        if p.get("dropped"):
            continue
        o = p["overall"]["overall"]
        b = o["blockage"]
        lines.append(f"| {p['name']} | {p['frames']} | {fmt(o['top1'])} | {fmt(o['top3'])} | {fmt(o['powerLossDB'], 2)} | "
                     f"{fmt(p['overall']['adeM'], 2)} | {fmt(p['overall']['fdeM'], 2)} | {fmt(o['powerRMSEDB'], 2)} / {fmt(o['powerMAEDB'], 2)} | "
                     f"{fmt(b['accuracy'])} / {fmt(b['precision'])} / {fmt(b['recall'])} / {fmt(b['f1'])} | {fmt(p.get('framesPerSecond'), 0)} |")
    return "\n".join(lines)


def step_table(result, step_ms):
    ps = [p for p in result["predictors"] if not p.get("dropped")]
    steps = max(len(p["overall"]["steps"]) for p in ps)
    head = "| predictor | metric | " + " | ".join(f"+{(k + 1) * step_ms:.0f} ms" for k in range(steps)) + " |"
    lines = [head, "|---|---|" + "---|" * steps]
    for p in ps:
        for key, label, digits in [("top1", "top-1", 3), ("top3", "top-3", 3), ("positionErrorM", "position error (m)", 2),
                                   ("powerRMSEDB", "power RMSE (dB)", 2)]:
            lines.append(f"| {p['name']} | {label} | " + " | ".join(fmt(s.get(key), digits) for s in p["overall"]["steps"]) + " |")
        lines.append(f"| {p['name']} | blockage F1 | " + " | ".join(fmt(s["blockage"]["f1"]) for s in p["overall"]["steps"]) + " |")
    return "\n".join(lines)


def evaluate_acceptance(test, heldout, learned):
    """Criteria of issue 10 with their outcome; returns (rows, all passed)."""
    rows = []
    others = [p["name"] for p in test["predictors"] if not p.get("dropped") and p["name"] != learned]
    ok_all = True
    for other in others:
        ci = bootstrap(test, learned, other)
        for metric, (label, higher) in METRICS.items():
            c = ci[metric]
            passed = c["lo"] > 0
            # Point estimate at least as good at every step.
            a_steps, b_steps = per_step(test, learned, metric), per_step(test, other, metric)
            step_ok = all((x >= y) if higher else (x <= y) for x, y in zip(a_steps, b_steps) if math.isfinite(x) and math.isfinite(y))
            ok = passed and step_ok
            ok_all &= ok
            rows.append((f"test drives: {learned} vs {other}, {label}", c, step_ok, ok))
    if heldout is not None:
        for other in ["persistence", "classical"]:
            if not any(p["name"] == other for p in heldout["predictors"]):
                continue
            c = bootstrap(heldout, learned, other)["top3"]
            ok = c["lo"] > 0
            ok_all &= ok
            rows.append((f"held-out scenario: {learned} vs {other}, beam top-3", c, None, ok))
    return rows, ok_all


def ablation_rows(test, learned):
    base = next(p for p in test["predictors"] if p["name"] == learned)
    rows = []
    for p in test["predictors"]:
        if p["name"].startswith(learned + " -") and p.get("dropped"):
            ci = bootstrap(test, learned, p["name"])["top3"]
            drop = 100 * ci["point"]
            rows.append((p["dropped"][-1], p["overall"]["overall"]["top3"], base["overall"]["overall"]["top3"], drop,
                         100 * ci["lo"], 100 * ci["hi"], drop <= 5.0))
    return rows


def report(out: Path, docs: Path, meta: dict):
    test = json.loads((out / "test.json").read_text())
    heldout = json.loads((out / "heldout.json").read_text()) if (out / "heldout.json").exists() else None
    names = [p["name"] for p in test["predictors"] if not p.get("dropped")]
    learned = "learned" if "learned" in names else None
    step_ms = meta.get("step_ms", 100.0)
    img = docs / "img/results"
    test_plots = plot_results.plot_all(test, img, "test-", step_ms)
    held_plots = plot_results.plot_all(heldout, img, "heldout-", step_ms) if heldout else {}

    md = ["# Results: learned predictor vs baselines",
          "",
          "Regenerated by `make results` (Tools/results.py): every predictor through `foresight eval` on the same frames "
          "(one synchronizer + preprocessing pass per front end, every predictor fed every frame).",
          "",
          f"- Test drives: street scenario, seeds {meta.get('seeds')}, {meta.get('duration')} s each — never used for training, validation or tuning.",
          f"- Held-out scenario: {meta.get('heldout_scenario') or 'not available'}" + (f", seeds {meta.get('heldout_seeds')}" if heldout else "") + ".",
          f"- Predictors: " + ", ".join(f"`{n}` ({p})" for n, p in meta.get("launches", {}).items()) + ".",
          f"- Intervals: 95 % bootstrap over drives (10,000 resamples of the drives with replacement, paired: the same resample for both predictors).",
          f"- Generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, git {meta.get('git', '?')}; eval wall time {fmt(meta.get('seconds_test'), 0)} s (test) + {fmt(meta.get('seconds_heldout'), 0)} s (held-out).",
          ""]
    if learned is None:
        md += ["**No learned model under models/** (train one with `make train`): only the baselines are compared; "
               "the acceptance criteria cannot be checked.", ""]
    md += ["## Test drives", "", summary_table(test), "", "### Per horizon step", "", step_table(test, step_ms), ""]
    if learned:
        rows, ok_all = evaluate_acceptance(test, heldout, learned)
        md += ["## Acceptance (issue 10)", "",
               "Improvement = learned − other for accuracies and F1, other − learned for errors; a criterion passes when the "
               "lower end of the 95 % interval is above zero (and, on the test drives, the learned point estimate is at least "
               "as good at every step).", "",
               "| criterion | improvement | 95 % interval | every step | result |", "|---|---|---|---|---|"]
        for label, c, step_ok, ok in rows:
            md.append(f"| {label} | {c['point']:+.4f} | [{c['lo']:+.4f}, {c['hi']:+.4f}] | "
                      f"{'—' if step_ok is None else ('yes' if step_ok else 'no')} | {'PASS' if ok else 'FAIL'} |")
        abl_path = out / "ablation.json"
        abl_result = json.loads(abl_path.read_text()) if abl_path.exists() else test
        abl = ablation_rows(abl_result, learned)
        if abl:
            where = (f"test drives {meta.get('ablation_seeds')} (a separate eval of the learned model and its variants)"
                     if abl_path.exists() else "the test drives above")
            md += ["", "### Dropping one modality at inference (criterion: top-3 falls by ≤ 5 points)", "",
                   f"On {where}.", "",
                   "| dropped | top-3 without it | top-3 with all | drop (points) | 95 % interval | result |", "|---|---|---|---|---|---|"]
            for m, t3, base, drop, lo, hi, ok in abl:
                md.append(f"| {m} | {fmt(t3)} | {fmt(base)} | {drop:+.1f} | [{lo:+.1f}, {hi:+.1f}] | {'PASS' if ok else 'FAIL'} |")
                ok_all &= ok
        md += ["", f"**Overall: {'PASS' if ok_all else 'FAIL'}**", ""]
        print("\n".join(f"{'PASS' if ok else 'FAIL'}  {label}: {c['point']:+.4f} [{c['lo']:+.4f}, {c['hi']:+.4f}]" for label, c, _, ok in rows))
        for m, t3, base, drop, lo, hi, ok in abl:
            print(f"{'PASS' if ok else 'FAIL'}  drop {m}: top-3 {fmt(t3)} vs {fmt(base)} ({drop:+.1f} points)")
        print(f"results: overall {'PASS' if ok_all else 'FAIL'}")
    md += ["## Plots (test drives)", ""]
    for key, title in [("topk", "Top-k vs horizon"), ("ade", "Position error vs horizon"), ("cdf", "CDF of the position error"),
                       ("mismatch", "Beam mismatch"), ("trace", "One drive's beam over time")]:
        if key in test_plots:
            md.append(f"![{title}](img/results/{test_plots[key].name})")
    if heldout:
        md += ["", "## Held-out scenario", "", summary_table(heldout), "", step_table(heldout, step_ms), ""]
        for key in ["topk", "trace"]:
            if key in held_plots:
                md.append(f"![held-out {key}](img/results/{held_plots[key].name})")
    speed = [f"`{p['name']}` {fmt(p.get('framesPerSecond'), 0)} frames/s" for p in test["predictors"] if not p.get("dropped")]
    md += ["", "## Speed", "", f"Predictor time per frame inside `foresight eval` (release build, shared 2-core machine): " + ", ".join(speed) + ".",
           f"Whole eval: {test['frames']} frames in {fmt(test['seconds'], 0)} s (simulation + preprocessing + every predictor).", ""]
    (docs / "results.md").write_text("\n".join(md) + "\n")
    print(f"results: wrote {docs / 'results.md'} and {len(test_plots) + len(held_plots)} plots under {img}")


def git_commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["run", "report"])
    ap.add_argument("--out", type=Path, default=ROOT / "results", help="where eval JSON and launch files go")
    ap.add_argument("--docs", type=Path, default=ROOT / "docs")
    ap.add_argument("--binary", type=Path, default=ROOT / ".build/release/foresight")
    ap.add_argument("--seeds", default="1000..1019")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--scenario", type=Path, default=ROOT / "launch/scenarios/street.yaml")
    ap.add_argument("--heldout-scenario", type=Path, default=ROOT / "launch/scenarios/boulevard.yaml")
    ap.add_argument("--heldout-seeds", default="1000..1019")
    ap.add_argument("--no-ablation", action="store_true", help="skip the drop-one-modality variants")
    ap.add_argument("--ablation-seeds", default="1000..1004",
                    help="test drives of the drop-one-modality table (its own eval of the learned model and its 5 variants, "
                         "run beside the others; the same as --seeds puts the variants into the test eval)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    meta_path = args.out / "meta.json"
    if args.command == "run":
        launches = discover(args.out)
        names = [n for n, _, _ in launches]
        ablate = "learned" if "learned" in names and not args.no_ablation else None
        separate = ablate is not None and args.ablation_seeds != args.seeds
        meta = {"seeds": args.seeds, "duration": args.duration, "launches": {n: str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for n, p, _ in launches},
                "git": git_commit(), "step_ms": 100.0}
        jobs = [("test", eval_command(args.binary, launches, args.scenario, args.seeds, args.duration, args.out / "test.json",
                                      None if separate else ablate))]
        (args.out / "ablation.json").unlink(missing_ok=True)
        if separate:
            meta["ablation_seeds"] = args.ablation_seeds
            learned_only = [l for l in launches if l[0] == "learned"]
            jobs.append(("ablation", eval_command(args.binary, learned_only, args.scenario, args.ablation_seeds, args.duration,
                                                  args.out / "ablation.json", ablate)))
        if args.heldout_scenario.exists():
            meta["heldout_scenario"] = str(args.heldout_scenario.relative_to(ROOT)) if args.heldout_scenario.is_relative_to(ROOT) else str(args.heldout_scenario)
            meta["heldout_seeds"] = args.heldout_seeds
            jobs.append(("heldout", eval_command(args.binary, launches, args.heldout_scenario, args.heldout_seeds, args.duration,
                                                 args.out / "heldout.json")))
        else:
            print(f"results: no held-out scenario at {args.heldout_scenario}; skipping it", file=sys.stderr)
            (args.out / "heldout.json").unlink(missing_ok=True)
        seconds = run_evals(jobs)
        meta["seconds_test"] = seconds["test"]
        if "ablation" in seconds:
            meta["seconds_ablation"] = seconds["ablation"]
        if "heldout" in seconds:
            meta["seconds_heldout"] = seconds["heldout"]
        meta_path.write_text(json.dumps(meta, indent=2))
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    report(args.out, args.docs, meta)


if __name__ == "__main__":
    main()
