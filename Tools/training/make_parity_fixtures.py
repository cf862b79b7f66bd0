"""Generate the Swift parity fixtures: a small random model, inputs, and PyTorch outputs.

Run through `make parity` (installs torch into .venv). Writes into --out:
  config.json         the small model configuration
  model.safetensors   random weights (batch-norm statistics and norms randomised so folding is tested)
  cases.safetensors   per case `<case>.<name>`: inputs (camera, radar, lidar, gnss, power, present,
                      valid; bools as 0/1 floats) and outputs of every submodule and of the whole model
The Swift tests (Tests/ForesightInferenceTests/ParityTests.swift) must reproduce them within 1e-4.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import CNNConfig, ConvSpec, ModelConfig, MultiTaskModel, PoolSpec  # noqa: E402
from export import export, write_safetensors  # noqa: E402


def small_config() -> ModelConfig:
    return ModelConfig(
        d_model=32, heads=2, encoder_layers=2, predictor_layers=1, mlp_ratio=2,
        history=4, future=3, num_beams=64, head_hidden=32, max_intra_tokens=16,
        vision=CNNConfig(3, 32, 32, [ConvSpec(8, 5, 2, 2), ConvSpec(16, 3, 2, 1)], PoolSpec([3, 3], [2, 2])),
        radar=CNNConfig(1, 16, 32, [ConvSpec(8, 3, 2, 1), ConvSpec(16, 3, 2, 1)], PoolSpec([1, 2], [1, 2])),
        lidar=CNNConfig(1, 16, 32, [ConvSpec(8, 3, 2, 1), ConvSpec(16, 3, 2, 1)], PoolSpec([1, 2], [1, 2])),
    )


def randomise(model: MultiTaskModel, g: torch.Generator) -> None:
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
            elif name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("num_batches_tracked"):
                continue
            elif (".bn." in name or ".norm" in name) and name.endswith("weight"):
                t.copy_(1.0 + torch.randn(t.shape, generator=g) * 0.2)
            elif name.endswith("bias") or name.startswith(("pos.", "missing", "mask_token")):
                t.copy_(torch.randn(t.shape, generator=g) * 0.3)


def make_inputs(c: ModelConfig, g: torch.Generator):
    H = c.history
    camera = torch.randn(H, c.vision.in_channels, c.vision.height, c.vision.width, generator=g)
    radar = torch.rand(H, c.radar.in_channels, c.radar.height, c.radar.width, generator=g)
    lidar = torch.rand(H, c.lidar.in_channels, c.lidar.height, c.lidar.width, generator=g) * 3.0
    t = torch.arange(H, dtype=torch.float32)
    gnss = torch.stack([12.0 + 1.5 * t, -4.0 + 0.7 * t], 1) + torch.randn(H, 2, generator=g) * 0.1
    power = torch.randn(H, c.num_beams, generator=g)
    return camera, radar, lidar, gnss, power


CASES = {
    # every frame, every modality
    "full": ([True] * 4, []),
    # start of a stream: only the last two frames exist; the last frame lacks vision and gnss
    "partial": ([False, False, True, True], [(3, 0), (3, 3), (2, 2)]),
    # full window with gaps: gnss missing in frames 1 and 3, power in 3, lidar in 1, radar in 0
    "gaps": ([True] * 4, [(1, 3), (3, 3), (3, 4), (1, 2), (0, 1)]),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    c = small_config()
    model = MultiTaskModel(c).eval()
    randomise(model, g)
    export(model, args.out)

    tensors: dict[str, np.ndarray] = {}
    for case, (valid_list, missing) in CASES.items():
        H = c.history
        camera, radar, lidar, gnss, power = make_inputs(c, g)
        present = torch.ones(H, 5, dtype=torch.bool)
        for t, m in missing:
            present[t, m] = False
        valid = torch.tensor(valid_list)
        with torch.no_grad():
            out = model(camera[None], radar[None], lidar[None], gnss[None], power[None], present[None], valid[None])
        ins = {"camera": camera, "radar": radar, "lidar": lidar, "gnss": gnss, "power": power,
               "present": present.float(), "valid": valid.float()}
        for k, v in ins.items():
            tensors[f"{case}.{k}"] = v.numpy()
        for k, v in out.items():
            if k == "parts":
                for name, p in zip(("vision", "radar", "lidar", "gnss", "power"), v):
                    tensors[f"{case}.parts.{name}"] = p.reshape(H, *p.shape[1:]).numpy()
            else:
                tensors[f"{case}.{k}"] = v[0].numpy()
    write_safetensors(args.out / "cases.safetensors", tensors, {"seed": str(args.seed)})
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote parity fixtures to {args.out} ({total} bytes)")


if __name__ == "__main__":
    main()
