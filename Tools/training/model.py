"""PyTorch twin of ForesightInference's multi-task model (Sources/ForesightInference).

The architecture, parameter names and tensor layouts here are the contract with the Swift engine:
`export.py` writes this model's state dict (batch-norm running statistics included, unfused) to
safetensors, and the Swift loader checks every tensor's name, dtype and shape against the config.

Shapes (B = batch, H = history frames, F = future steps, d = model dimension):
  camera  [B, H, C, h, w]   float32 CHW, normalized
  radar   [B, H, 1, h, w]   range-angle map (angle rows x range columns), [0, 1]
  lidar   [B, H, 1, h, w]   depth image
  gnss    [B, H, 2]         east, north in metres
  power   [B, H, beams]     beam power in normalized dB
  present [B, H, 5]         bool, modality present (order: vision, radar, lidar, gnss, power)
  valid   [B, H]            bool, frame exists in the window (the last frame must be valid)

Token order inside a frame: vision, radar, lidar, gnss, power. Sequence order: frame-major.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, asdict
from typing import Any

import torch
from torch import nn
import torch.nn.functional as F

MODALITIES = ("vision", "radar", "lidar", "gnss", "power")


@dataclass
class ConvSpec:
    out_channels: int
    kernel: int
    stride: int
    padding: int


@dataclass
class PoolSpec:
    kernel: list[int]
    stride: list[int]


@dataclass
class CNNConfig:
    in_channels: int
    height: int
    width: int
    convs: list[ConvSpec]
    pool: PoolSpec

    def output_grid(self) -> tuple[int, int]:
        h, w = self.height, self.width
        for c in self.convs:
            h = (h + 2 * c.padding - c.kernel) // c.stride + 1
            w = (w + 2 * c.padding - c.kernel) // c.stride + 1
        h = (h - self.pool.kernel[0]) // self.pool.stride[0] + 1
        w = (w - self.pool.kernel[1]) // self.pool.stride[1] + 1
        return h, w

    def tokens(self) -> int:
        h, w = self.output_grid()
        return h * w

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "CNNConfig":
        return CNNConfig(d["in_channels"], d["height"], d["width"],
                         [ConvSpec(**c) for c in d["convs"]], PoolSpec(**d["pool"]))


@dataclass
class ModelConfig:
    d_model: int = 128
    heads: int = 4
    encoder_layers: int = 4
    predictor_layers: int = 2
    mlp_ratio: int = 4
    history: int = 8
    future: int = 5
    num_beams: int = 64
    head_hidden: int = 128
    max_intra_tokens: int = 16
    layer_norm_eps: float = 1e-5
    batch_norm_eps: float = 1e-5
    vision: CNNConfig = field(default_factory=lambda: CNNConfig(3, 224, 224, [
        ConvSpec(16, 5, 2, 2), ConvSpec(32, 3, 2, 1), ConvSpec(64, 3, 2, 1),
        ConvSpec(128, 3, 2, 1), ConvSpec(128, 3, 2, 1)], PoolSpec([3, 3], [2, 2])))
    radar: CNNConfig = field(default_factory=lambda: CNNConfig(1, 64, 256, [
        ConvSpec(16, 3, 2, 1), ConvSpec(32, 3, 2, 1), ConvSpec(64, 3, 2, 1)], PoolSpec([2, 8], [2, 8])))
    lidar: CNNConfig = field(default_factory=lambda: CNNConfig(1, 64, 256, [
        ConvSpec(16, 3, 2, 1), ConvSpec(32, 3, 2, 1), ConvSpec(64, 3, 2, 1)], PoolSpec([2, 8], [2, 8])))

    def tokens_per_modality(self) -> list[int]:
        return [self.vision.tokens(), self.radar.tokens(), self.lidar.tokens(), 1, 1]

    def tokens_per_frame(self) -> int:
        return sum(self.tokens_per_modality())

    def to_json(self) -> str:
        d = asdict(self)
        d = {"format": "foresight-multitask", "version": 1, **d}
        return json.dumps(d, indent=2)

    @staticmethod
    def from_json(text: str) -> "ModelConfig":
        d = json.loads(text)
        d.pop("format", None)
        d.pop("version", None)
        for k in ("vision", "radar", "lidar"):
            d[k] = CNNConfig.from_dict(d[k])
        return ModelConfig(**d)


class ConvBlock(nn.Module):
    """conv (no bias) -> batch norm -> GELU. Swift folds the batch norm into the conv at load."""

    def __init__(self, cin: int, spec: ConvSpec, eps: float):
        super().__init__()
        self.conv = nn.Conv2d(cin, spec.out_channels, spec.kernel, spec.stride, spec.padding, bias=False)
        self.bn = nn.BatchNorm2d(spec.out_channels, eps=eps)

    def forward(self, x):
        return F.gelu(self.bn(self.conv(x)))


class CNNTokenizer(nn.Module):
    """Conv blocks -> average pool -> one token per pooled cell -> linear to d."""

    def __init__(self, cfg: CNNConfig, d: int, eps: float):
        super().__init__()
        self.cfg = cfg
        blocks, cin = [], cfg.in_channels
        for spec in cfg.convs:
            blocks.append(ConvBlock(cin, spec, eps))
            cin = spec.out_channels
        self.convs = nn.ModuleList(blocks)
        self.proj = nn.Linear(cin, d)

    def forward(self, x):  # [N, C, h, w] -> [N, T, d]
        for b in self.convs:
            x = b(x)
        x = F.avg_pool2d(x, self.cfg.pool.kernel, self.cfg.pool.stride)
        x = x.flatten(2).transpose(1, 2)
        return self.proj(x)


class StateTokenizer(nn.Module):
    """linear -> layer norm: one token."""

    def __init__(self, n_in: int, d: int, eps: float):
        super().__init__()
        self.proj = nn.Linear(n_in, d)
        self.norm = nn.LayerNorm(d, eps=eps)

    def forward(self, x):  # [N, n_in] -> [N, 1, d]
        return self.norm(self.proj(x)).unsqueeze(1)


class Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x, key_valid=None):  # x [B, N, d], key_valid [B, N] bool
        B, N, d = x.shape
        h, dh = self.heads, d // self.heads
        qkv = self.qkv(x).reshape(B, N, 3, h, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(dh))
        if key_valid is not None:
            s = s.masked_fill(~key_valid[:, None, None, :], float("-inf"))
        a = s.softmax(dim=-1)
        o = (a @ v).transpose(1, 2).reshape(B, N, d)
        return self.out(o)


class MLP(nn.Module):
    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-LN transformer layer."""

    def __init__(self, d: int, heads: int, ratio: int, eps: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d, eps=eps)
        self.attn = Attention(d, heads)
        self.norm2 = nn.LayerNorm(d, eps=eps)
        self.mlp = MLP(d, ratio * d, d)

    def forward(self, x, key_valid=None):
        x = x + self.attn(self.norm1(x), key_valid)
        return x + self.mlp(self.norm2(x))


class Transformer(nn.Module):
    def __init__(self, layers: int, d: int, heads: int, ratio: int, eps: float):
        super().__init__()
        self.layers = nn.ModuleList(Block(d, heads, ratio, eps) for _ in range(layers))
        self.norm = nn.LayerNorm(d, eps=eps)

    def forward(self, x, key_valid=None):
        for layer in self.layers:
            x = layer(x, key_valid)
        return self.norm(x)


class Tokenizers(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        e = c.layer_norm_eps
        self.vision = CNNTokenizer(c.vision, c.d_model, c.batch_norm_eps)
        self.radar = CNNTokenizer(c.radar, c.d_model, c.batch_norm_eps)
        self.lidar = CNNTokenizer(c.lidar, c.d_model, c.batch_norm_eps)
        self.gnss = StateTokenizer(2, c.d_model, e)
        self.power = StateTokenizer(c.num_beams, c.d_model, e)


class PositionalEmbedding(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        d = c.d_model
        self.time = nn.Parameter(torch.randn(c.history + c.future, d) * 0.02)
        self.modality = nn.Parameter(torch.randn(len(MODALITIES), d) * 0.02)
        self.intra = nn.Parameter(torch.randn(c.max_intra_tokens, d) * 0.02)


class BeamHead(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        hh = c.head_hidden
        self.proj = nn.Linear(c.d_model + 2, hh)
        self.gru = nn.GRUCell(hh, hh)
        self.mlp = MLP(hh, hh, c.num_beams)

    def forward(self, fused):  # [B, F, d+2] -> [B, F, beams]
        x = self.proj(fused)
        h = x.new_zeros(x.shape[0], x.shape[2])
        outs = []
        for k in range(x.shape[1]):
            h = self.gru(x[:, k], h)
            outs.append(h)
        return self.mlp(torch.stack(outs, 1))


class Heads(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        hh = c.head_hidden
        self.loc = nn.Module()
        self.loc.residual = MLP(c.d_model, hh, 2)
        self.beam = BeamHead(c)
        self.power = nn.Module()
        self.power.residual = MLP(c.d_model + 2, hh, c.num_beams)
        self.blockage = nn.Module()
        self.blockage.mlp = MLP(c.d_model, hh, 1)


def coarse_position(gnss, gnss_ok, history: int, future: int):
    """Constant-velocity extrapolation from the last two frames that have a fix.

    gnss [B, H, 2], gnss_ok [B, H] bool -> [B, F, 2]. One fix: hold it. No fix: zeros.
    """
    B = gnss.shape[0]
    out = gnss.new_zeros(B, future, 2)
    for b in range(B):
        idx = [t for t in range(history) if bool(gnss_ok[b, t])]
        if not idx:
            continue
        a = idx[-1]
        pa = gnss[b, a]
        if len(idx) >= 2:
            p = idx[-2]
            v = (pa - gnss[b, p]) / float(a - p)
        else:
            v = torch.zeros_like(pa)
        for k in range(future):
            out[b, k] = pa + float(history - 1 - a + k + 1) * v
    return out


def coarse_power(power, power_ok, future: int):
    """The last present beam-power vector, held for every future step (zeros if none)."""
    B, H, n = power.shape
    out = power.new_zeros(B, future, n)
    for b in range(B):
        idx = [t for t in range(H) if bool(power_ok[b, t])]
        if idx:
            out[b] = power[b, idx[-1]].expand(future, n)
    return out


class MultiTaskModel(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        self.c = c
        assert c.d_model % c.heads == 0
        for n in c.tokens_per_modality():
            assert n <= c.max_intra_tokens, "raise max_intra_tokens"
        self.tok = Tokenizers(c)
        self.missing = nn.Parameter(torch.randn(len(MODALITIES), c.d_model) * 0.02)
        self.pos = PositionalEmbedding(c)
        self.encoder = Transformer(c.encoder_layers, c.d_model, c.heads, c.mlp_ratio, c.layer_norm_eps)
        self.predictor = Transformer(c.predictor_layers, c.d_model, c.heads, c.mlp_ratio, c.layer_norm_eps)
        self.mask_token = nn.Parameter(torch.zeros(c.d_model))
        self.heads = Heads(c)

    # --- tokenization -------------------------------------------------------------------------
    def tokenize(self, camera, radar, lidar, gnss, power, present):
        """Raw tokens per frame [B, H, T, d] (missing modalities replaced by their learned token)."""
        B, H = present.shape[:2]
        flat = lambda x: x.reshape(B * H, *x.shape[2:])
        parts = [
            self.tok.vision(flat(camera)),
            self.tok.radar(flat(radar)),
            self.tok.lidar(flat(lidar)),
            self.tok.gnss(flat(gnss)),
            self.tok.power(flat(power)),
        ]
        out = []
        for m, p in enumerate(parts):
            ok = flat(present[..., m]).reshape(B * H, 1, 1)
            out.append(torch.where(ok, p, self.missing[m].expand_as(p)))
        return torch.cat(out, 1).reshape(B, H, -1, self.c.d_model), parts

    def position_table(self, t0: int, frames: int):
        """Sum of time, modality and intra-frame embeddings for frames t0..t0+frames-1: [frames*T, d]."""
        rows = []
        for t in range(t0, t0 + frames):
            for m, n in enumerate(self.c.tokens_per_modality()):
                for i in range(n):
                    rows.append(self.pos.time[t] + self.pos.modality[m] + self.pos.intra[i])
        return torch.stack(rows, 0)

    # --- backbone + heads ---------------------------------------------------------------------
    def forward(self, camera, radar, lidar, gnss, power, present, valid):
        c = self.c
        B, H = valid.shape
        T = c.tokens_per_frame()
        tokens, parts = self.tokenize(camera, radar, lidar, gnss, power, present)
        return self.backbone_and_heads(tokens, gnss, power, present, valid, parts)

    def backbone_and_heads(self, tokens, gnss, power, present, valid, parts=None):
        c = self.c
        B, H, T, d = tokens.shape
        Fu = c.future
        x = tokens.reshape(B, H * T, d) + self.position_table(0, H)
        key_valid = valid.repeat_interleave(T, dim=1)
        ctx = self.encoder(x, key_valid)
        fut = self.mask_token + self.position_table(H, Fu)
        seq = torch.cat([ctx, fut.expand(B, -1, -1)], 1)
        pred_valid = torch.cat([key_valid, key_valid.new_ones(B, Fu * T)], 1)
        out = self.predictor(seq, pred_valid)
        latents = out[:, H * T:].reshape(B, Fu, T, d).mean(2)

        hd = self.heads
        gnss_ok = present[..., 3] & valid
        power_ok = present[..., 4] & valid
        coarse = coarse_position(gnss, gnss_ok, H, Fu)
        positions = coarse + hd.loc.residual(latents)
        fused = torch.cat([latents, positions], -1)
        beam_logits = hd.beam(fused)
        beam_power = coarse_power(power, power_ok, Fu) + hd.power.residual(fused)
        blockage_logit = hd.blockage.mlp(latents).squeeze(-1)
        chosen = beam_logits.argmax(-1, keepdim=True)
        return {
            "tokens": tokens,
            "parts": parts,
            "context": ctx,
            "predictor_out": out,
            "latents": latents,
            "coarse_positions": coarse,
            "positions": positions,
            "beam_logits": beam_logits,
            "beam_power": beam_power,
            "chosen_power": beam_power.gather(-1, chosen).squeeze(-1),
            "mean_power": beam_power.mean(-1),
            "blockage_logit": blockage_logit,
        }
