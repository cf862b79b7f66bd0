"""Export a MultiTaskModel (or any named float32 tensors) as safetensors + config JSON.

safetensors layout (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
then the raw little-endian tensor bytes. Written by hand here (json + struct), no extra dependency.
"""
from __future__ import annotations

import argparse
import json
import struct
from pathlib import Path

import numpy as np
import torch

from model import ModelConfig, MultiTaskModel


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write float32 arrays (C order) as a safetensors file; names sorted, data 8-byte aligned header."""
    header: dict[str, object] = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs, offset = [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b:8 + n + e], dtype="<f4").reshape(info["shape"])
    return out


def state_tensors(model: MultiTaskModel) -> dict[str, np.ndarray]:
    """The model's state dict as float32 arrays (BatchNorm's num_batches_tracked is dropped)."""
    return {k: v.detach().cpu().float().numpy() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def export(model: MultiTaskModel, directory: Path) -> None:
    """Write `config.json` and `model.safetensors` into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(model.c.to_json() + "\n")
    write_safetensors(directory / "model.safetensors", state_tensors(model), {"format": "pt", "producer": "foresight"})


def main() -> None:
    ap = argparse.ArgumentParser(description="Export a randomly initialised or checkpointed model.")
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--config", type=Path, help="config JSON (default: the built-in d=128 model)")
    ap.add_argument("--checkpoint", type=Path, help="torch state dict to load")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    cfg = ModelConfig.from_json(args.config.read_text()) if args.config else ModelConfig()
    model = MultiTaskModel(cfg).eval()
    if args.checkpoint:
        model.load_state_dict(torch.load(args.checkpoint, map_location="cpu"))
    export(model, args.out)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out}/config.json and model.safetensors ({n} parameters)")


if __name__ == "__main__":
    main()
