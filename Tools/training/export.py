"""Export a Foresight model (v2 multi-task or GRU baseline) as config.json + model.safetensors (+ model card).

safetensors layout (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
then the raw little-endian tensor bytes. Written by hand here (json + struct), no extra dependency.

Training code calls `export(model, directory, card=...)`; the command line exports random or checkpointed
weights:  .venv/bin/python Tools/training/export.py --out DIR [--format multitask|gru] [--config cfg.json]
[--checkpoint state_dict.pt] [--seed S]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import (FullAttentionModel, GRUBaseline, GRUConfig, ModelConfig, MultiTaskModel,  # noqa: E402
                   build, config_from_json)

DTYPES = {np.dtype("<f4"): "F32", np.dtype("<i8"): "I64"}


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write arrays (float32, or int64 when given as int64) as a safetensors file; names sorted."""
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        a = np.ascontiguousarray(a, dtype="<i8" if a.dtype == np.int64 else "<f4")
        b = a.tobytes()
        header[name] = {"dtype": DTYPES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = Path(str(path) + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    tmp.replace(path)


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    kinds = {"F32": "<f4", "I64": "<i8", "F16": "<f2", "U8": "u1", "I32": "<i4"}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b:8 + n + e], dtype=kinds[info["dtype"]]).reshape(info["shape"])
    return out


def state_tensors(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """The model's state dict as float32 arrays (BatchNorm's num_batches_tracked is dropped)."""
    return {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export(model: torch.nn.Module, directory: Path, card: dict | None = None) -> str:
    """Write `config.json` and `model.safetensors` (and README.md when `card` is given) into `directory`.

    Returns the SHA-256 of model.safetensors. `card` keys (all optional except name): name, summary, data,
    split, command, metrics (either {row: {column: value}} or a ready markdown string), notes.
    """
    if isinstance(model, FullAttentionModel):
        raise ValueError("the full-attention variant is a training-time comparison only; export the v2 model")
    if not isinstance(model, (MultiTaskModel, GRUBaseline)):
        raise TypeError(f"cannot export {type(model).__name__}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(model.c.to_json() + "\n")
    weights = directory / "model.safetensors"
    write_safetensors(weights, state_tensors(model), {"format": "pt", "producer": "foresight"})
    digest = sha256(weights)
    if card is not None:
        write_model_card(directory, model, digest, card)
    return digest


def _metrics_markdown(metrics) -> str:
    if isinstance(metrics, str):
        return metrics
    rows = list(metrics)
    cols: list[str] = []
    for r in rows:
        for k in metrics[r]:
            if k not in cols:
                cols.append(k)
    out = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in rows:
        cells = []
        for k in cols:
            v = metrics[r].get(k, "")
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        out.append(f"| {r} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def write_model_card(directory: Path, model: torch.nn.Module, digest: str, card: dict) -> None:
    """models/<name>/README.md: what the model is, data, split, command, metrics, weights checksum."""
    c = model.c
    n = sum(p.numel() for p in model.parameters())
    size = (Path(directory) / "model.safetensors").stat().st_size
    kind = "streaming multi-task model (v2)" if isinstance(model, MultiTaskModel) else "GRU baseline"
    lines = [f"# {card.get('name', Path(directory).name)}", "",
             card.get("summary", f"Foresight learned predictor: {kind}."), "",
             "| field | value |", "|---|---|",
             f"| format | `{c.FORMAT}` version {c.VERSION} |",
             f"| parameters | {n:,} |",
             f"| weights | model.safetensors, {size:,} bytes, SHA-256 `{digest}` |",
             f"| history / future / step | {c.history} frames / {c.future} steps / {c.step_ms} ms |",
             f"| inputs | camera {c.vision.in_channels}x{c.vision.height}x{c.vision.width}, radar {c.radar.height}x{c.radar.width}, "
             f"lidar {c.lidar.height}x{c.lidar.width}, gnss 2, beam power {c.num_beams} |",
             f"| preprocessing version | `{c.preprocessing_version or 'unset'}` |"]
    for key in ("data", "split", "command"):
        if key in card:
            lines.append(f"| {key} | {card[key]} |")
    if "metrics" in card:
        lines += ["", "## Metrics", "", _metrics_markdown(card["metrics"])]
    if "notes" in card:
        lines += ["", card["notes"]]
    lines += ["", "Load: `StreamingPredictor.load(directory:)` (Swift) — see docs/inference.md.", ""]
    (Path(directory) / "README.md").write_text("\n".join(lines))


def load(directory: Path) -> torch.nn.Module:
    """Rebuild a model from an exported directory (config.json + model.safetensors)."""
    directory = Path(directory)
    cfg = config_from_json((directory / "config.json").read_text())
    model = build(cfg)
    tensors = read_safetensors(directory / "model.safetensors")
    sd = model.state_dict()
    for k in sd:
        if k.endswith("num_batches_tracked"):
            continue
        sd[k] = torch.from_numpy(np.array(tensors[k]))
    model.load_state_dict(sd)
    return model.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description="Export a randomly initialised or checkpointed Foresight model.")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--format", choices=("multitask", "gru"), default="multitask")
    ap.add_argument("--config", type=Path, help="config JSON (default: the built-in config of --format)")
    ap.add_argument("--checkpoint", type=Path, help="torch state dict to load")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    if args.config:
        cfg = config_from_json(args.config.read_text())
    else:
        cfg = GRUConfig() if args.format == "gru" else ModelConfig()
    model = build(cfg).eval()
    if args.checkpoint:
        model.load_state_dict(torch.load(args.checkpoint, map_location="cpu"))
    digest = export(model, args.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}/config.json and model.safetensors ({n} parameters, sha256 {digest[:16]}…)")


if __name__ == "__main__":
    main()
