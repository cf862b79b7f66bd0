"""Foresight's learned predictors in PyTorch: the streaming multi-task model (v2), the GRU baseline,
and the paper-style full-attention variant (training-time comparison only, never exported).

The architecture, parameter names and tensor layouts here are the contract with the Swift engine
(Sources/ForesightInference): `export.py` writes a model's state dict (batch-norm statistics unfused)
to safetensors plus config.json, and the Swift loader checks every tensor's name and shape.
Design notes and the streaming contract: docs/inference.md and /work/wt/CONTRACT-learned.md §3.

Segment-mode shapes (B = batch of segments, N = frames, T = tokens per frame, d = model width,
A = anchors, F = future steps, H = history frames, Bm = beams):
  camera    [B, N, 3, h, w]   float32 CHW, normalized (the camera preprocessor's output)
  radar     [B, N, h, w]      range-angle map (angle rows x range columns)   ([B,N,1,h,w] also accepted)
  lidar     [B, N, h, w]      depth image                                     ([B,N,1,h,w] also accepted)
  gnss      [B, N, 2]         east, north (m, site frame)
  power     [B, N, Bm]        beam power as the daemon's preprocessor gives the model (tokenizer input)
  power_dbm [B, N, Bm]        measured beam power in dBm (the coarse power estimate)
  present   [B, N, 5]         bool, modality present (order: camera/vision, radar, lidar, gnss, power)
  stamps    [B, N]            int64 frame stamps (ns)
  segment_start_mask [B, N]   bool, True at the first frame of each segment (None = one segment);
                              frame 0 always starts a segment
  anchors   [A] or [B, A]     int64 frame indices; predictions are made "after" frame anchor

The v2 encoder is block-causal by frame over a sliding window: a token of frame i attends to the tokens
of frames j with i-(H-1) <= j <= i in the same segment, with a learned per-head bias indexed by
lag = clamp(floor((stamp_i - stamp_j + step/2) / step), 0, H-1) (step = step_ms in ns). There is no
time/window-index embedding on the input, so a frame's encoding never depends on where a window starts:
`encode` over a whole segment equals `StreamingSession.step` frame by frame (tested in export.py's
self-check and by the Swift parity tests).

Encoding a chunk of a segment: frames before the chunk are invisible, so frames in the first H-1 positions
of a chunk that does not start at a segment start see a shorter history than in streaming. Either start
chunks at segment starts, or overlap chunks by H-1 frames and use anchors >= H-1 from the chunk start.
"""
from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

MODALITIES = ("vision", "radar", "lidar", "gnss", "power")
NS_PER_MS = 1_000_000


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------

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

    def input_count(self) -> int:
        return self.in_channels * self.height * self.width

    @staticmethod
    def from_dict(d: dict[str, Any]) -> "CNNConfig":
        return CNNConfig(d["in_channels"], d["height"], d["width"],
                         [ConvSpec(**c) for c in d["convs"]], PoolSpec(**d["pool"]))


def default_camera() -> CNNConfig:
    """Camera 3x96x96 (the camera preprocessor's output size in the learned launch files) -> 3x3 = 9 tokens.

    96 px instead of the paper's 224 px keeps CPU training feasible (about 21 MFLOP per frame instead
    of 170) while a car is still several pixels wide at the simulated distances.
    """
    return CNNConfig(3, 96, 96, [ConvSpec(16, 5, 2, 2), ConvSpec(32, 3, 2, 1), ConvSpec(64, 3, 2, 1),
                                 ConvSpec(128, 3, 2, 1)], PoolSpec([2, 2], [2, 2]))


def default_map() -> CNNConfig:
    """Radar range-angle map / LiDAR depth image 1x64x256 -> 4x16 -> pool 1x4 -> 4x4 = 16 tokens (~8 MFLOP)."""
    return CNNConfig(1, 64, 256, [ConvSpec(8, 3, 2, 1), ConvSpec(16, 3, 2, 1), ConvSpec(32, 3, 2, 1),
                                  ConvSpec(64, 3, 2, 1)], PoolSpec([1, 4], [1, 4]))


@dataclass
class ModelConfig:
    """Configuration of the streaming multi-task model (config.json: format foresight-multitask, version 2)."""
    d_model: int = 128
    heads: int = 4
    encoder_layers: int = 4
    predictor_layers: int = 2
    mlp_ratio: int = 4
    history: int = 8
    future: int = 5
    step_ms: int = 100
    num_beams: int = 64
    head_hidden: int = 128
    queries_per_step: int = 5
    max_intra_tokens: int = 16
    layer_norm_eps: float = 1e-5
    batch_norm_eps: float = 1e-5
    position_scale: float = 0.02         # metres -> beam/power/blockage head input (pos * scale)
    power_default_dbm: float = -100.0    # coarse power when no measured power is in the window
    preprocessing_version: str = ""
    # "window": coarse estimates from the window alone (constant velocity, last power);
    # "classical": the heads also take the classical predictor's estimates (dataset tensors coarse_*)
    coarse_inputs: str = "window"
    # With coarse_inputs "classical": the power and blockage heads also see the newest measured power profile
    # relative to its peak (dB / 10, floored at -30 dB, as the beam head) and the peak level ((dBm + 60) / 20).
    # Blockage is mostly the current LoS state, which shows in that profile (a ~20 dB drop of the LoS beam).
    head_power_profile: bool = False
    # How the beam head forms its logits (coarse_inputs "classical" only):
    # "absolute": an MLP's 64 logits + per-step gains times the classical logits and the measured profile;
    # "filter": the MLP gives per step 2 x (2 * beam_filter_taps + 1) taps, and the logits are the classical logits
    # and the measured profile (relative to its peak) each filtered along the beam axis with those taps (edge
    # samples repeated; beam_filter). The codebook is uniform in sin(angle), so a shift of the peak by j beams means
    # the same on every street, while an absolute map from the latents to beam indices is one street's map;
    # "filter+absolute": both, the MLP's 64 absolute logits added to the filtered ones.
    head_beam: str = "absolute"
    beam_filter_taps: int = 4
    vision: CNNConfig = field(default_factory=default_camera)
    radar: CNNConfig = field(default_factory=default_map)
    lidar: CNNConfig = field(default_factory=default_map)

    FORMAT = "foresight-multitask"
    VERSION = 2

    def tokens_per_modality(self) -> list[int]:
        return [self.vision.tokens(), self.radar.tokens(), self.lidar.tokens(), 1, 1]

    def tokens_per_frame(self) -> int:
        return sum(self.tokens_per_modality())

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.FORMAT, "version": self.VERSION, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        d = dict(d)
        fmt, ver = d.pop("format", cls.FORMAT), d.pop("version", cls.VERSION)
        if fmt != cls.FORMAT or ver != cls.VERSION:
            raise ValueError(f"config is {fmt} v{ver}, expected {cls.FORMAT} v{cls.VERSION}")
        for k in ("vision", "radar", "lidar"):
            if k in d:
                d[k] = CNNConfig.from_dict(d[k])
        known = set(cls.__dataclass_fields__)
        extra = set(d) - known
        if extra:
            raise ValueError(f"unknown config keys {sorted(extra)}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


@dataclass
class GRUConfig:
    """Configuration of the GRU baseline (config.json: format foresight-gru, version 1)."""
    d_model: int = 64                    # tokenizer width
    hidden: int = 128                    # encoder/decoder GRU width (= the heads' latent width)
    history: int = 8                     # frames used for the coarse estimates (the GRU state carries all)
    future: int = 5
    step_ms: int = 100
    num_beams: int = 64
    head_hidden: int = 128
    layer_norm_eps: float = 1e-5
    batch_norm_eps: float = 1e-5
    position_scale: float = 0.02
    power_default_dbm: float = -100.0
    preprocessing_version: str = ""
    coarse_inputs: str = "window"
    vision: CNNConfig = field(default_factory=default_camera)
    radar: CNNConfig = field(default_factory=default_map)
    lidar: CNNConfig = field(default_factory=default_map)

    FORMAT = "foresight-gru"
    VERSION = 1

    tokens_per_modality = ModelConfig.tokens_per_modality
    tokens_per_frame = ModelConfig.tokens_per_frame
    to_dict = ModelConfig.to_dict
    to_json = ModelConfig.to_json
    from_dict = classmethod(ModelConfig.from_dict.__func__)
    from_json = classmethod(ModelConfig.from_json.__func__)


def config_from_json(text: str):
    """ModelConfig or GRUConfig by the `format` field."""
    d = json.loads(text)
    fmt = d.get("format")
    if fmt == ModelConfig.FORMAT:
        return ModelConfig.from_dict(d)
    if fmt == GRUConfig.FORMAT:
        return GRUConfig.from_dict(d)
    raise ValueError(f"unknown model format {fmt!r}")


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------

class ConvBlock(nn.Module):
    """conv (no bias) -> batch norm -> GELU. Swift folds the batch norm into the conv at load."""

    def __init__(self, cin: int, spec: ConvSpec, eps: float):
        super().__init__()
        self.conv = nn.Conv2d(cin, spec.out_channels, spec.kernel, spec.stride, spec.padding, bias=False)
        self.bn = nn.BatchNorm2d(spec.out_channels, eps=eps)

    def forward(self, x):
        return F.gelu(self.bn(self.conv(x)))


class CNNTokenizer(nn.Module):
    """Conv blocks -> average pool -> one token per pooled cell (row-major) -> linear to d."""

    def __init__(self, cfg: CNNConfig, d: int, eps: float):
        super().__init__()
        self.cfg = cfg
        blocks, cin = [], cfg.in_channels
        for spec in cfg.convs:
            blocks.append(ConvBlock(cin, spec, eps))
            cin = spec.out_channels
        self.convs = nn.ModuleList(blocks)
        self.proj = nn.Linear(cin, d)

    def forward(self, x):  # [M, C, h, w] -> [M, tokens, d]
        for b in self.convs:
            x = b(x)
        x = F.avg_pool2d(x, self.cfg.pool.kernel, self.cfg.pool.stride)
        return self.proj(x.flatten(2).transpose(1, 2))


class StateTokenizer(nn.Module):
    """linear -> layer norm: one token."""

    def __init__(self, n_in: int, d: int, eps: float):
        super().__init__()
        self.proj = nn.Linear(n_in, d)
        self.norm = nn.LayerNorm(d, eps=eps)

    def forward(self, x):  # [M, n_in] -> [M, 1, d]
        return self.norm(self.proj(x)).unsqueeze(1)


class Tokenizers(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.vision = CNNTokenizer(c.vision, c.d_model, c.batch_norm_eps)
        self.radar = CNNTokenizer(c.radar, c.d_model, c.batch_norm_eps)
        self.lidar = CNNTokenizer(c.lidar, c.d_model, c.batch_norm_eps)
        self.gnss = StateTokenizer(2, c.d_model, c.layer_norm_eps)
        self.power = StateTokenizer(c.num_beams, c.d_model, c.layer_norm_eps)


class MLP(nn.Module):
    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden)
        self.fc2 = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


def _tokenize(mod, c, camera, radar, lidar, gnss, power, present):
    """Shared by the v2 model and the GRU baseline: raw tokens [B, N, T, d] (missing -> learned token)."""
    B, N = present.shape[:2]
    present = present.bool()

    def flat(x, maps=False):
        x = x.reshape(B * N, *x.shape[2:])
        return x.unsqueeze(1) if maps and x.dim() == 3 else x

    parts = [mod.tok.vision(flat(camera)), mod.tok.radar(flat(radar, True)), mod.tok.lidar(flat(lidar, True)),
             mod.tok.gnss(flat(gnss)), mod.tok.power(flat(power))]
    out = []
    for m, p in enumerate(parts):
        ok = present[..., m].reshape(B * N, 1, 1)
        out.append(torch.where(ok, p, mod.missing[m].to(p.dtype).expand_as(p)))
    return torch.cat(out, 1).reshape(B, N, -1, c.d_model)


def _anchors(anchors, B: int, device) -> torch.Tensor:
    a = torch.as_tensor(anchors, dtype=torch.long, device=device)
    return a.expand(B, -1) if a.dim() == 1 else a


def _segment_ids(segment_start_mask, B: int, N: int, device) -> torch.Tensor:
    if segment_start_mask is None:
        return torch.zeros(B, N, dtype=torch.long, device=device)
    return segment_start_mask.long().cumsum(1)


def _lags(stamp_i, stamp_j, step_ms: int, H: int) -> torch.Tensor:
    """lag = clamp(floor((stamp_i - stamp_j + step/2) / step), 0, H-1), int64 arithmetic (= the Swift engine)."""
    step = step_ms * NS_PER_MS
    diff = stamp_i - stamp_j + step // 2
    return torch.div(diff, step, rounding_mode="floor").clamp(0, H - 1)


def _windows(idx_end, seg, stamps, H: int, step_ms: int):
    """For frames idx_end [B, M]: the H window slots (oldest first) -> (indices clamped [B,M,H], valid, lag)."""
    B, M = idx_end.shape
    offs = torch.arange(H, device=idx_end.device) - (H - 1)
    idx = idx_end[..., None] + offs                      # [B, M, H]
    safe = idx.clamp(min=0)
    flat = safe.reshape(B, -1)
    seg_j = seg.gather(1, flat).reshape(B, M, H)
    seg_i = seg.gather(1, idx_end)[..., None]
    valid = (idx >= 0) & (seg_j == seg_i)
    st_j = stamps.gather(1, flat).reshape(B, M, H)
    st_i = stamps.gather(1, idx_end)[..., None]
    lag = _lags(st_i, st_j, step_ms, H)
    return safe, valid, lag


def _gather_frames(x, idx):
    """x [B, N, ...], idx [B, M, H] -> [B, M, H, ...]."""
    B, M, H = idx.shape
    flat = idx.reshape(B, M * H)
    g = x.gather(1, flat.reshape(B, M * H, *([1] * (x.dim() - 2))).expand(B, M * H, *x.shape[2:]))
    return g.reshape(B, M, H, *x.shape[2:])


def _attn_mask(lag_bias, lag, valid, T: int):
    """Additive mask [B*M, heads, 1, H*T] from the per-head lag bias table [heads, H]."""
    B, M, H = lag.shape
    bias = lag_bias[:, lag]                              # [heads, B, M, H]
    bias = bias.permute(1, 2, 0, 3)                      # [B, M, heads, H]
    bias = bias.masked_fill(~valid[:, :, None, :], float("-inf"))
    bias = bias[..., None].expand(B, M, bias.shape[2], H, T).reshape(B * M, bias.shape[2], 1, H * T)
    return bias


class WindowAttention(nn.Module):
    """Self-attention of a frame's tokens over the tokens of its window (with lag bias) — the v2 encoder."""

    def __init__(self, d: int, heads: int, history: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.lag_bias = nn.Parameter(torch.zeros(heads, history))


class EncoderBlock(nn.Module):
    """Pre-LN transformer layer of the v2 encoder."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        d, e = c.d_model, c.layer_norm_eps
        self.norm1 = nn.LayerNorm(d, eps=e)
        self.attn = WindowAttention(d, c.heads, c.history)
        self.norm2 = nn.LayerNorm(d, eps=e)
        self.mlp = MLP(d, c.mlp_ratio * d, d)


class SelfAttention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)

    def forward(self, x, key_valid=None):  # x [M, L, d], key_valid [M, L] bool
        M, L, d = x.shape
        h = self.heads
        q, k, v = self.qkv(x).reshape(M, L, 3, h, d // h).permute(2, 0, 3, 1, 4)
        mask = None
        if key_valid is not None:
            mask = torch.zeros(M, 1, 1, L, dtype=x.dtype, device=x.device).masked_fill(
                ~key_valid[:, None, None, :], float("-inf"))
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(o.transpose(1, 2).reshape(M, L, d))


class CrossAttention(nn.Module):
    """Future queries attend to the cached context (K/V projected once per context frame)."""

    def __init__(self, d: int, heads: int, history: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, d)
        self.lag_bias = nn.Parameter(torch.zeros(heads, history))


class PredictorBlock(nn.Module):
    """x += SelfAttn(LN1 x); x += CrossAttn(LN2 x, context); x += MLP(LN3 x)."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        d, e = c.d_model, c.layer_norm_eps
        self.norm1 = nn.LayerNorm(d, eps=e)
        self.self_attn = SelfAttention(d, c.heads)
        self.norm2 = nn.LayerNorm(d, eps=e)
        self.cross = CrossAttention(d, c.heads, c.history)
        self.norm3 = nn.LayerNorm(d, eps=e)
        self.mlp = MLP(d, c.mlp_ratio * d, d)


class BeamHead(nn.Module):
    """[z_k, pos_k * scale (, classical inputs)] -> linear -> GRU over the future steps (h0 = 0) -> MLP -> beam logits."""

    def __init__(self, n_in: int, hh: int, beams: int):
        super().__init__()
        self.proj = nn.Linear(n_in, hh)
        self.gru = nn.GRUCell(hh, hh)
        self.mlp = MLP(hh, hh, beams)

    def forward(self, fused):  # [M, F, n_in] -> [M, F, beams]
        x = self.proj(fused)
        h = x.new_zeros(x.shape[0], x.shape[2])
        outs = []
        for k in range(x.shape[1]):
            h = self.gru(x[:, k], h)
            outs.append(h)
        return self.mlp(torch.stack(outs, 1))


CLASSICAL_EXTRAS = 3   # per step: (power + 60) / 20, logit(blockage) / 4, position known


BEAM_HEADS = ("absolute", "filter", "filter+absolute")


def beam_absolute(c) -> bool:
    """Whether the beam MLP also gives 64 absolute logits (head_beam "absolute" or "filter+absolute")."""
    return getattr(c, "head_beam", "absolute") != "filter"


def beam_taps(c) -> int:
    """Taps per filtered profile (2 * beam_filter_taps + 1) with head_beam "filter" or "filter+absolute", else 0."""
    kind = getattr(c, "head_beam", "absolute")
    if kind not in BEAM_HEADS:
        raise ValueError(f"head_beam {kind!r}: expected one of {', '.join(BEAM_HEADS)}")
    if kind == "absolute":
        return 0
    if getattr(c, "coarse_inputs", "window") != "classical":
        raise ValueError(f"head_beam {kind!r} filters the classical beam logits: it needs coarse_inputs 'classical'")
    J = int(getattr(c, "beam_filter_taps", 4))
    if not 0 <= J <= 16:
        raise ValueError(f"beam_filter_taps {J}: expected 0...16")
    return 2 * J + 1


def beam_filter(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """x [..., Bm] filtered along the beam axis: out[b] = sum_j taps[j] * x[clamp(b + j - J)], taps [..., 2J+1]."""
    T = taps.shape[-1]
    J = (T - 1) // 2
    Bm = x.shape[-1]
    idx = (torch.arange(Bm, device=x.device)[:, None] + torch.arange(-J, J + 1, device=x.device)[None, :]).clamp(0, Bm - 1)
    return (x[..., idx] * taps[..., None, :]).sum(-1)


class Heads(nn.Module):
    """Task heads on the per-step latents z [.., F, zdim] (shared by the v2 model and the GRU baseline).

    With `classical`, the heads also take the classical predictor's estimates of each step (docs/inference.md):
    the position starts from its position (+ a learned per-step share of the constant-velocity estimate's
    difference, which the residual MLP also sees), the beam logits add its ranker logits and the last
    measured power profile with learned per-step gains (and see both as inputs; with `filter_taps` the beam MLP
    instead gives per-step taps that filter both along the beam axis, plus 64 logits if `absolute`), the power and blockage
    heads see its power and blockage, and the blockage logit adds its logit with a learned per-step gain."""

    def __init__(self, zdim: int, hh: int, beams: int, future: int = 5, classical: bool = False,
                 power_profile: bool = False, filter_taps: int = 0, absolute: bool = True):
        super().__init__()
        self.filter_taps = filter_taps
        self.absolute = absolute or not filter_taps
        extra = CLASSICAL_EXTRAS if classical else 0
        profile = beams + 1 if (classical and power_profile) else 0
        self.power_profile = profile > 0
        self.loc = nn.Module()
        self.loc.residual = MLP(zdim + (4 if classical else 0), hh, 2)
        self.beam = BeamHead(zdim + 2 + (2 * beams + extra if classical else 0), hh,
                             2 * filter_taps + (beams if self.absolute else 0))
        self.power = nn.Module()
        self.power.residual = MLP(zdim + 2 + extra + profile, hh, beams)
        self.blockage = nn.Module()
        self.blockage.mlp = MLP(zdim + 2 + extra + profile, hh, 1)
        if classical:
            self.loc.cv_gain = nn.Parameter(torch.zeros(future))
            self.loc.hold_gain = nn.Parameter(torch.zeros(future))
            if filter_taps:
                # Start as the absolute head's gains start: the classical logits' own centre tap 1, the rest 0.
                with torch.no_grad():
                    self.beam.mlp.fc2.weight.mul_(0.1)
                    self.beam.mlp.fc2.bias.zero_()
                    self.beam.mlp.fc2.bias[filter_taps // 2] = 1.0    # taps first, then any absolute logits
            else:
                self.beam.prior_gain = nn.Parameter(torch.ones(future))
                self.beam.power_gain = nn.Parameter(torch.zeros(future))
            self.blockage.gain = nn.Parameter(torch.full((future,), 0.5))


def coarse_estimates(c, gnss, present, power_dbm, anchors, stamps, segment_start_mask=None):
    """Coarse positions [B,A,F,2] (constant velocity) and last measured power [B,A,F,Bm] for each anchor.

    Window = frames anchor-H+1..anchor of the anchor's segment. Position: a least-squares line p = a + v*tau
    through every GNSS fix of the window (tau = fix stamp - newest fix stamp, seconds from int64 ns, float64
    arithmetic); anchor a = the fitted value at the newest fix; p_k = a + v * (t_anchor + (k+1)*step - t_newest_fix).
    Two fixes: the line through them (exact constant velocity). One fix: held. None: (0, 0). (A line fit over
    the window's ~0.7 s instead of the last two fixes 0.1 s apart: learn-train measured GNSS noise of 0.7 m
    per fix turning into ~10 m/s of velocity noise with two fixes.)
    Power: the newest frame with measured power; none: power_default_dbm.
    """
    B, N = present.shape[:2]
    H, Fu = c.history, c.future
    dev = present.device
    anchors = _anchors(anchors, B, dev)
    seg = _segment_ids(segment_start_mask, B, N, dev)
    idx, valid, _ = _windows(anchors, seg, stamps, H, c.step_ms)
    present = present.bool()
    pres = _gather_frames(present, idx)                   # [B, A, H, 5]
    slot = torch.arange(H, device=dev)
    gok = valid & pres[..., 3]
    last = torch.where(gok, slot, -1).amax(-1)            # [B, A]
    fr_last = idx.gather(2, last.clamp(min=0)[..., None]).squeeze(-1)
    t_last = stamps.gather(1, fr_last)
    st = _gather_frames(stamps, idx)                      # [B, A, H]
    p = _gather_frames(gnss.double(), idx)                # [B, A, H, 2]
    w = gok.double()
    n = w.sum(-1).clamp(min=1.0)
    tau = (st - t_last[..., None]).double() / 1e9 * w
    tau_mean = tau.sum(-1) / n
    p_mean = (p * w[..., None]).sum(-2) / n[..., None]
    dt = (tau - tau_mean[..., None]) * w
    sxx = (dt * dt).sum(-1)
    sxy = (dt[..., None] * (p - p_mean[..., None, :]) * w[..., None]).sum(-2)
    has_v = sxx > 0
    v = torch.where(has_v[..., None], sxy / torch.where(has_v, sxx, 1.0)[..., None], 0.0)
    base = p_mean - v * tau_mean[..., None]               # fitted value at the newest fix
    t_anchor = stamps.gather(1, anchors)
    k = torch.arange(1, Fu + 1, device=dev, dtype=torch.long)
    ahead = (t_anchor[..., None] + k * (c.step_ms * NS_PER_MS) - t_last[..., None]).double() / 1e9   # [B, A, F]
    pos = base[:, :, None, :] + v[:, :, None, :] * ahead[..., None]
    pos = torch.where((last >= 0)[..., None, None], pos, 0.0).to(gnss.dtype)

    pok = valid & pres[..., 4]
    plast = torch.where(pok, slot, -1).amax(-1)
    fr_p = idx.gather(2, plast.clamp(min=0)[..., None]).squeeze(-1)
    pw = power_dbm.gather(1, fr_p[..., None].expand(-1, -1, power_dbm.shape[-1]))
    pw = torch.where((plast >= 0)[..., None], pw, torch.full_like(pw, c.power_default_dbm))
    return pos, pw[:, :, None, :].expand(-1, -1, Fu, -1)


CLASSICAL_KEYS = {"coarse_position": "position", "coarse_beam_logits": "beam_logits", "coarse_power_dbm": "power_dbm",
                  "coarse_blockage": "blockage", "coarse_known": "known"}


def classical_inputs(batch: dict, index=None) -> dict | None:
    """The classical estimates of a dataset batch (keys coarse_*) as apply_heads takes them, optionally indexed."""
    if "coarse_position" not in batch:
        return None
    return {v: (batch[k] if index is None else batch[k][index]) for k, v in CLASSICAL_KEYS.items()}


def _classical(c, classical):
    if getattr(c, "coarse_inputs", "window") != "classical":
        return None
    if classical is None:
        raise ValueError("this model's heads take the classical estimates (coarse_inputs: classical); pass `classical`")
    return classical


def held_fix(c, gnss, present, anchors, segment_start_mask=None, stamps=None, with_flag=False):
    """The newest GNSS fix of each anchor's window [B, A, 2] (zeros without one): what persistence predicts.
    with_flag: also whether the window has a fix at all [B, A] bool."""
    B, N = present.shape[:2]
    dev = present.device
    anchors = _anchors(anchors, B, dev)
    seg = _segment_ids(segment_start_mask, B, N, dev)
    st = stamps if stamps is not None else torch.zeros(B, N, dtype=torch.long, device=dev)
    idx, valid, _ = _windows(anchors, seg, st, c.history, c.step_ms)
    gok = valid & _gather_frames(present.bool(), idx)[..., 3]
    slot = torch.arange(c.history, device=dev)
    last = torch.where(gok, slot, -1).amax(-1)
    fr = idx.gather(2, last.clamp(min=0)[..., None]).squeeze(-1)
    p = _gather_frames(gnss, fr[..., None])[:, :, 0]
    held = torch.where((last >= 0)[..., None], p, torch.zeros_like(p))
    return (held, last >= 0) if with_flag else held


def apply_heads(c, heads: Heads, z, coarse_pos, coarse_pow, classical=None):
    """z [B,A,F,zdim] -> dict of head outputs (power in dBm). `classical` (with coarse_inputs "classical"):
    dict position [B,A,F,2], beam_logits [B,A,F,Bm], power_dbm [B,A,F], blockage [B,A,F], known [B,A]."""
    B, A, Fu, zd = z.shape
    if classical is None:
        position = coarse_pos + heads.loc.residual(z)
        fused = torch.cat([z, position * c.position_scale], -1)
        beam_logits = heads.beam(fused.reshape(B * A, Fu, zd + 2)).reshape(B, A, Fu, -1)
        power = coarse_pow + heads.power.residual(fused)
        blockage = heads.blockage.mlp(fused).squeeze(-1)
        return {"position": position, "beam_logits": beam_logits, "power_dbm": power, "blockage_logit": blockage,
                "coarse_position": coarse_pos, "coarse_power_dbm": coarse_pow}
    known = classical["known"].to(torch.bool)[..., None, None]                 # [B, A, 1, 1]
    # Without any GNSS fix in the window (the classical position then comes from the LiDAR clouds
    # alone, if at all) the constant-velocity and held-fix terms are meaningless: zero.
    has_fix = classical["has_fix"].to(torch.bool)[..., None, None] if "has_fix" in classical else torch.ones_like(known)
    base = torch.where(known, classical["position"].to(z.dtype), coarse_pos)
    diff = torch.where(has_fix, coarse_pos - base, torch.zeros_like(base))    # constant velocity - classical
    hold = torch.where(known & has_fix, classical["held"].to(z.dtype)[:, :, None, :].expand_as(base) - base,
                       torch.zeros_like(base))                                 # last fix - classical
    position = (base + heads.loc.cv_gain[:, None] * diff + heads.loc.hold_gain[:, None] * hold
                + heads.loc.residual(torch.cat([z, diff * 0.1, hold * 0.1], -1)))
    prior = classical["beam_logits"].to(z.dtype)                               # [B, A, F, Bm], in [-64, 0]
    rel = (coarse_pow - coarse_pow.amax(-1, keepdim=True)).clamp(min=-30.0) / 10.0
    blk_logit = torch.logit(classical["blockage"].to(z.dtype).clamp(0.01, 0.99))
    extras = torch.stack([(classical["power_dbm"].to(z.dtype) + 60.0) / 20.0, blk_logit / 4.0,
                          known[..., 0].to(z.dtype).expand(B, A, Fu)], -1)     # [B, A, F, 3]
    fused = torch.cat([z, position * c.position_scale, extras], -1)
    beam_in = torch.cat([z, position * c.position_scale, prior / 10.0, rel, extras], -1)
    beam_out = heads.beam(beam_in.reshape(B * A, Fu, -1)).reshape(B, A, Fu, -1)
    if heads.filter_taps:
        T = heads.filter_taps
        beam_logits = beam_filter(prior, beam_out[..., :T]) + beam_filter(rel, beam_out[..., T:2 * T])
        if heads.absolute:
            beam_logits = beam_logits + beam_out[..., 2 * T:]
    else:
        beam_logits = beam_out + heads.beam.prior_gain[:, None] * prior + heads.beam.power_gain[:, None] * rel
    if heads.power_profile:
        peak = (coarse_pow.amax(-1, keepdim=True) + 60.0) / 20.0
        fused = torch.cat([fused, rel, peak], -1)
    power = coarse_pow + heads.power.residual(fused)
    blockage = heads.blockage.mlp(fused).squeeze(-1) + heads.blockage.gain * blk_logit
    return {"position": position, "beam_logits": beam_logits, "power_dbm": power, "blockage_logit": blockage,
            "coarse_position": base, "coarse_power_dbm": coarse_pow}


# ---------------------------------------------------------------------------------------------
# The streaming multi-task model (v2)
# ---------------------------------------------------------------------------------------------

class MultiTaskModel(nn.Module):
    """Tokenizers -> sliding-window block-causal encoder -> predictor (future queries, cross-attention) -> heads."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        assert c.d_model % c.heads == 0
        for n in c.tokens_per_modality():
            assert n <= c.max_intra_tokens, "raise max_intra_tokens"
        self.c = c
        d = c.d_model
        self.tok = Tokenizers(c)
        self.missing = nn.Parameter(torch.randn(len(MODALITIES), d) * 0.02)
        self.embed = nn.Module()
        self.embed.modality = nn.Parameter(torch.randn(len(MODALITIES), d) * 0.02)
        self.embed.intra = nn.Parameter(torch.randn(c.max_intra_tokens, d) * 0.02)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(EncoderBlock(c) for _ in range(c.encoder_layers))
        self.encoder.norm = nn.LayerNorm(d, eps=c.layer_norm_eps)
        self.predictor = nn.Module()
        self.predictor.mask_token = nn.Parameter(torch.zeros(d))
        self.predictor.step = nn.Parameter(torch.randn(c.future, d) * 0.02)
        self.predictor.query = nn.Parameter(torch.randn(c.queries_per_step, d) * 0.02)
        self.predictor.layers = nn.ModuleList(PredictorBlock(c) for _ in range(c.predictor_layers))
        self.predictor.norm = nn.LayerNorm(d, eps=c.layer_norm_eps)
        self.task_heads = Heads(d, c.head_hidden, c.num_beams, c.future, c.coarse_inputs == "classical", c.head_power_profile,
                                beam_taps(c), beam_absolute(c))

    # --- embeddings -----------------------------------------------------------------------------
    def token_embedding(self) -> torch.Tensor:
        """modality[m] + intra[i] for every token slot of a frame: [T, d]."""
        rows = []
        for m, n in enumerate(self.c.tokens_per_modality()):
            rows.append(self.embed.modality[m] + self.embed.intra[:n])
        return torch.cat(rows, 0)

    def query_tokens(self) -> torch.Tensor:
        """mask_token + step[k] + query[q] for k < F, q < Q: [F*Q, d] (step-major)."""
        p = self.predictor
        q = p.mask_token + p.step[:, None, :] + p.query[None, :, :]
        return q.reshape(-1, self.c.d_model)

    # --- API ------------------------------------------------------------------------------------
    def tokenize(self, camera, radar, lidar, gnss, power, present):
        """Raw tokens [B, N, T, d]: tokenizer outputs, missing modalities replaced by the learned token."""
        return _tokenize(self, self.c, camera, radar, lidar, gnss, power, present)

    def encode(self, tokens, stamps, segment_start_mask=None):
        """Banded block-causal encoder over whole segments: tokens [B, N, T, d] -> context [B, N, T, d]."""
        c = self.c
        B, N, T, d = tokens.shape
        H, nh = c.history, c.heads
        dh = d // nh
        seg = _segment_ids(segment_start_mask, B, N, tokens.device)
        ends = torch.arange(N, device=tokens.device).expand(B, N)
        idx, valid, lag = _windows(ends, seg, stamps, H, c.step_ms)
        x = tokens + self.token_embedding()
        for layer in self.encoder.layers:
            h = layer.norm1(x)
            q, k, v = layer.attn.qkv(h).reshape(B, N, T, 3, nh, dh).unbind(3)
            kw = _gather_frames(k, idx).reshape(B * N, H * T, nh, dh).transpose(1, 2)
            vw = _gather_frames(v, idx).reshape(B * N, H * T, nh, dh).transpose(1, 2)
            q = q.reshape(B * N, T, nh, dh).transpose(1, 2)
            mask = _attn_mask(layer.attn.lag_bias, lag, valid, T).to(x.dtype)
            o = F.scaled_dot_product_attention(q, kw, vw, attn_mask=mask)
            x = x + layer.attn.out(o.transpose(1, 2).reshape(B, N, T, d))
            x = x + layer.mlp(layer.norm2(x))
        return self.encoder.norm(x)

    def predict(self, ctx, stamps, anchors, segment_start_mask=None):
        """Future latents z [B, A, F, d] for each anchor from the context of frames anchor-H+1..anchor."""
        c = self.c
        B, N, T, d = ctx.shape
        H, nh, Fu, Q = c.history, c.heads, c.future, c.queries_per_step
        dh = d // nh
        anchors = _anchors(anchors, B, ctx.device)
        A = anchors.shape[1]
        seg = _segment_ids(segment_start_mask, B, N, ctx.device)
        idx, valid, lag = _windows(anchors, seg, stamps, H, c.step_ms)
        x = self.query_tokens().expand(B * A, Fu * Q, d)
        for layer in self.predictor.layers:
            x = x + layer.self_attn(layer.norm1(x))
            kv = layer.cross.kv(ctx)                                  # per frame, [B, N, T, 2d]
            k, v = _gather_frames(kv, idx).reshape(B * A, H * T, 2, nh, dh).unbind(2)
            q = layer.cross.q(layer.norm2(x)).reshape(B * A, Fu * Q, nh, dh).transpose(1, 2)
            mask = _attn_mask(layer.cross.lag_bias, lag, valid, T).to(x.dtype)
            o = F.scaled_dot_product_attention(q, k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
            x = x + layer.cross.out(o.transpose(1, 2).reshape(B * A, Fu * Q, d))
            x = x + layer.mlp(layer.norm3(x))
        x = self.predictor.norm(x)
        return x.reshape(B, A, Fu, Q, d).mean(3)

    def heads(self, z, gnss, present, power_dbm, anchors, stamps, segment_start_mask=None, classical=None):
        """Task heads: dict(position [B,A,F,2], beam_logits [B,A,F,Bm], power_dbm [B,A,F,Bm], blockage_logit [B,A,F])
        plus coarse_position / coarse_power_dbm. `classical`: the classical estimates at each anchor (apply_heads),
        required when the config's coarse_inputs is "classical"."""
        pos, pw = coarse_estimates(self.c, gnss, present, power_dbm, anchors, stamps, segment_start_mask)
        cl = _classical(self.c, classical)
        if cl is not None:
            held, has_fix = held_fix(self.c, gnss, present, anchors, segment_start_mask, stamps, with_flag=True)
            cl = dict(cl, held=held, has_fix=has_fix)
        return apply_heads(self.c, self.task_heads, z, pos.to(z.dtype), pw.to(z.dtype), cl)

    @staticmethod
    def target_latents(ctx_target, anchors, future: int, segment_start_mask=None):
        """JEPA targets: layer-normed (no affine) mean over frame anchor+k+1's target-encoder tokens.

        ctx_target [B, N, T, d] (the EMA encoder's output over the same segment) -> (targets [B, A, F, d],
        valid [B, A, F] bool: the frame exists and lies in the anchor's segment)."""
        B, N, T, d = ctx_target.shape
        anchors = _anchors(anchors, B, ctx_target.device)
        seg = _segment_ids(segment_start_mask, B, N, ctx_target.device)
        idx = anchors[..., None] + torch.arange(1, future + 1, device=ctx_target.device)   # [B, A, F]
        valid = idx < N
        safe = idx.clamp(max=N - 1)
        valid &= seg.gather(1, safe.reshape(B, -1)).reshape(safe.shape) == seg.gather(1, anchors)[..., None]
        pooled = ctx_target.mean(2)                                   # [B, N, d]
        tgt = _gather_frames(pooled, safe)                            # [B, A, F, d]
        return F.layer_norm(tgt, (d,)), valid

    def forward(self, camera, radar, lidar, gnss, power, power_dbm, present, stamps, anchors, segment_start_mask=None,
                classical=None):
        """`classical`: per-frame classical estimates [B, N, ...] (classical_inputs of a batch), gathered at the anchors."""
        tokens = self.tokenize(camera, radar, lidar, gnss, power, present)
        ctx = self.encode(tokens, stamps, segment_start_mask)
        z = self.predict(ctx, stamps, anchors, segment_start_mask)
        if classical is not None:
            a = _anchors(anchors, gnss.shape[0], gnss.device)
            classical = {k: _gather_frames(v, a[..., None])[:, :, 0] for k, v in classical.items()}
        out = self.heads(z, gnss, present, power_dbm, anchors, stamps, segment_start_mask, classical=classical)
        out.update(tokens=tokens, context=ctx, latents=z)
        return out


# ---------------------------------------------------------------------------------------------
# GRU baseline
# ---------------------------------------------------------------------------------------------

class GRUBaseline(nn.Module):
    """Paper Table II GRU baseline over all five modalities.

    Per frame: the same kind of tokenizers (own weights, width d_model), missing -> learned token, mean of
    each modality's tokens, concatenated [5*d] -> linear -> GELU -> encoder GRU cell (state carried frame to
    frame through the segment, zero at a segment start) -> decoder GRU cell unrolled F steps from the encoder
    state with input step[k] -> the same heads as the v2 model on the decoder states.
    """

    def __init__(self, c: GRUConfig):
        super().__init__()
        self.c = c
        d = c.d_model
        self.tok = Tokenizers(c)
        self.missing = nn.Parameter(torch.randn(len(MODALITIES), d) * 0.02)
        self.feat = nn.Linear(len(MODALITIES) * d, c.hidden)
        self.encoder = nn.GRUCell(c.hidden, c.hidden)
        self.decoder = nn.GRUCell(c.hidden, c.hidden)
        self.step = nn.Parameter(torch.randn(c.future, c.hidden) * 0.02)
        self.task_heads = Heads(c.hidden, c.head_hidden, c.num_beams, c.future, c.coarse_inputs == "classical")


    def tokenize(self, camera, radar, lidar, gnss, power, present):
        return _tokenize(self, self.c, camera, radar, lidar, gnss, power, present)

    def features(self, tokens):
        """Per-frame GRU input [B, N, hidden] from tokens [B, N, T, d]."""
        pooled = [p.mean(2) for p in tokens.split(self.c.tokens_per_modality(), dim=2)]
        return F.gelu(self.feat(torch.cat(pooled, -1)))

    def encode(self, tokens, stamps=None, segment_start_mask=None):
        """Encoder GRU states after each frame [B, N, hidden] (reset at segment starts)."""
        x = self.features(tokens)
        B, N, _ = x.shape
        h = x.new_zeros(B, self.c.hidden)
        outs = []
        for t in range(N):
            if segment_start_mask is not None and t > 0:
                h = h * (~segment_start_mask[:, t].bool())[:, None].to(h.dtype)
            h = self.encoder(x[:, t], h)
            outs.append(h)
        return torch.stack(outs, 1)

    def predict(self, states, stamps=None, anchors=None, segment_start_mask=None):
        """Decoder latents z [B, A, F, hidden] from the encoder state after each anchor frame."""
        B = states.shape[0]
        anchors = _anchors(anchors, B, states.device)
        A = anchors.shape[1]
        h = states.gather(1, anchors[..., None].expand(-1, -1, states.shape[-1])).reshape(B * A, -1)
        outs = []
        for k in range(self.c.future):
            h = self.decoder(self.step[k].expand(B * A, -1), h)
            outs.append(h)
        return torch.stack(outs, 1).reshape(B, A, self.c.future, -1)

    def heads(self, z, gnss, present, power_dbm, anchors, stamps, segment_start_mask=None, classical=None):
        pos, pw = coarse_estimates(self.c, gnss, present, power_dbm, anchors, stamps, segment_start_mask)
        cl = _classical(self.c, classical)
        if cl is not None:
            held, has_fix = held_fix(self.c, gnss, present, anchors, segment_start_mask, stamps, with_flag=True)
            cl = dict(cl, held=held, has_fix=has_fix)
        return apply_heads(self.c, self.task_heads, z, pos.to(z.dtype), pw.to(z.dtype), cl)

    forward = MultiTaskModel.forward


# ---------------------------------------------------------------------------------------------
# Paper-style full-attention variant (training-time comparison only; never exported to Swift)
# ---------------------------------------------------------------------------------------------

class FullBlock(nn.Module):
    def __init__(self, c: ModelConfig):
        super().__init__()
        d, e = c.d_model, c.layer_norm_eps
        self.norm1 = nn.LayerNorm(d, eps=e)
        self.attn = SelfAttention(d, c.heads)
        self.norm2 = nn.LayerNorm(d, eps=e)
        self.mlp = MLP(d, c.mlp_ratio * d, d)

    def forward(self, x, key_valid=None):
        x = x + self.attn(self.norm1(x), key_valid)
        return x + self.mlp(self.norm2(x))


class FullAttentionModel(nn.Module):
    """JEPA-MSAC as in the paper (Sec. III-C/D): per window, tokens + time[slot] + modality + intra embeddings,
    a bidirectional encoder over the window's H*T tokens, and a predictor that self-attends jointly over the
    context and the F*Q future queries. Every window is re-encoded from scratch (no cache is possible because
    the time embedding depends on the window slot). Kept for the accuracy comparison in the training report;
    export.py refuses it and the Swift engine does not run it.

    API: tokenize (as v2), encode_windows(tokens, anchors, segment_start_mask, span) -> (ctx [B,A,span,T,d], valid),
    predict_windows(ctx, valid) -> z [B,A,F,d], heads (as v2), target_latents(tokens, anchors, ...) -> targets.
    """

    def __init__(self, c: ModelConfig):
        super().__init__()
        self.c = c
        d = c.d_model
        self.tok = Tokenizers(c)
        self.missing = nn.Parameter(torch.randn(len(MODALITIES), d) * 0.02)
        self.embed = nn.Module()
        self.embed.time = nn.Parameter(torch.randn(c.history + c.future, d) * 0.02)
        self.embed.modality = nn.Parameter(torch.randn(len(MODALITIES), d) * 0.02)
        self.embed.intra = nn.Parameter(torch.randn(c.max_intra_tokens, d) * 0.02)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(FullBlock(c) for _ in range(c.encoder_layers))
        self.encoder.norm = nn.LayerNorm(d, eps=c.layer_norm_eps)
        self.predictor = nn.Module()
        self.predictor.mask_token = nn.Parameter(torch.zeros(d))
        self.predictor.step = nn.Parameter(torch.randn(c.future, d) * 0.02)
        self.predictor.query = nn.Parameter(torch.randn(c.queries_per_step, d) * 0.02)
        self.predictor.layers = nn.ModuleList(FullBlock(c) for _ in range(c.predictor_layers))
        self.predictor.norm = nn.LayerNorm(d, eps=c.layer_norm_eps)
        self.task_heads = Heads(d, c.head_hidden, c.num_beams, c.future, c.coarse_inputs == "classical", c.head_power_profile,
                                beam_taps(c), beam_absolute(c))

    token_embedding = MultiTaskModel.token_embedding
    query_tokens = MultiTaskModel.query_tokens
    heads = MultiTaskModel.heads

    def tokenize(self, camera, radar, lidar, gnss, power, present):
        return _tokenize(self, self.c, camera, radar, lidar, gnss, power, present)

    def encode_windows(self, tokens, stamps, anchors, segment_start_mask=None, span=None, start_offset=0):
        """Encode, per anchor, the `span` frames anchor-H+1+start_offset.. (default span H): [B, A, span, T, d]."""
        c = self.c
        B, N, T, d = tokens.shape
        span = span or c.history
        anchors = _anchors(anchors, B, tokens.device)
        A = anchors.shape[1]
        seg = _segment_ids(segment_start_mask, B, N, tokens.device)
        offs = torch.arange(span, device=tokens.device) - (c.history - 1) + start_offset
        idx = anchors[..., None] + offs
        safe = idx.clamp(0, N - 1)
        valid = (idx >= 0) & (idx < N) & (seg.gather(1, safe.reshape(B, -1)).reshape(safe.shape)
                                          == seg.gather(1, anchors)[..., None])
        x = _gather_frames(tokens, safe)                                   # [B, A, span, T, d]
        x = x + self.token_embedding() + self.embed.time[start_offset:start_offset + span, None, :]
        x = x.reshape(B * A, span * T, d)
        kv = valid.reshape(B * A, span, 1).expand(-1, -1, T).reshape(B * A, span * T)
        for layer in self.encoder.layers:
            x = layer(x, kv)
        return self.encoder.norm(x).reshape(B, A, span, T, d), valid

    def predict_windows(self, ctx, valid):
        B, A, H, T, d = ctx.shape
        Fu, Q = self.c.future, self.c.queries_per_step
        q = self.query_tokens().expand(B * A, Fu * Q, d)
        x = torch.cat([ctx.reshape(B * A, H * T, d), q], 1)
        kv = torch.cat([valid.reshape(B * A, H, 1).expand(-1, -1, T).reshape(B * A, H * T),
                        valid.new_ones(B * A, Fu * Q)], 1)
        for layer in self.predictor.layers:
            x = layer(x, kv)
        x = self.predictor.norm(x)[:, H * T:]
        return x.reshape(B, A, Fu, Q, d).mean(3)

    def target_latents(self, tokens, stamps, anchors, segment_start_mask=None):
        """Targets from this (EMA) model: encode the H+F frames anchor-H+1..anchor+F with full attention,
        layer-normed mean of future slot k's tokens -> (targets [B,A,F,d], valid [B,A,F])."""
        c = self.c
        ctx, valid = self.encode_windows(tokens, stamps, anchors, segment_start_mask, span=c.history + c.future)
        fut = ctx[:, :, c.history:].mean(3)
        return F.layer_norm(fut, (fut.shape[-1],)), valid[:, :, c.history:]


# ---------------------------------------------------------------------------------------------
# Streaming references (what the Swift engine computes, one frame at a time)
# ---------------------------------------------------------------------------------------------

@dataclass
class _Frame:
    stamp: int
    keys: list          # per encoder layer: (k [T, d], v [T, d])
    cross: list         # per predictor layer: (k [T, d], v [T, d]) of the final context
    gnss: torch.Tensor
    power_dbm: torch.Tensor
    present: torch.Tensor


class StreamingSession:
    """Frame-by-frame v2 inference with a per-layer key/value cache per frame (the Swift engine's algorithm).

    `step(...)` takes one frame (unbatched tensors as in the dataset: camera [3,h,w], radar [h,w], lidar
    [h,w], gnss [2], power [Bm], power_dbm [Bm], present [5] bool, stamp int ns) and returns the head
    outputs for that frame as anchor (F rows) plus `latents` and `context` (the frame's final encoder
    tokens). `reset()` starts a new segment. The encoder work per frame is the frame's own T tokens.
    """

    def __init__(self, model: MultiTaskModel):
        self.m = model
        self.reset()

    def reset(self):
        self.frames: deque[_Frame] = deque(maxlen=self.m.c.history)

    @torch.no_grad()
    def step(self, camera, radar, lidar, gnss, power, power_dbm, present, stamp: int, classical=None):
        m, c = self.m, self.m.c
        d, nh, H = c.d_model, c.heads, c.history
        dh = d // nh
        present = torch.as_tensor(present).bool()
        tokens = m.tokenize(camera[None, None], radar[None, None], lidar[None, None], gnss[None, None],
                            power[None, None], present[None, None])[0, 0]
        T = tokens.shape[0]
        prev = list(self.frames)                  # oldest first, at most H-1 kept after append
        if len(prev) == H:
            prev = prev[1:]
        stamps = torch.tensor([f.stamp for f in prev] + [stamp], dtype=torch.long)
        lag = _lags(torch.tensor(stamp), stamps, c.step_ms, H)          # [n]
        x = tokens + m.token_embedding()
        keys = []
        for li, layer in enumerate(m.encoder.layers):
            h = layer.norm1(x)
            q, k, v = layer.attn.qkv(h).reshape(T, 3, d).unbind(1)
            keys.append((k, v))
            K = torch.cat([f.keys[li][0] for f in prev] + [k], 0)          # [n*T, d]
            V = torch.cat([f.keys[li][1] for f in prev] + [v], 0)
            bias = layer.attn.lag_bias[:, lag].repeat_interleave(T, dim=1)  # [heads, n*T]
            o = _attend(q, K, V, bias, nh)
            x = x + layer.attn.out(o)
            x = x + layer.mlp(layer.norm2(x))
        ctx = m.encoder.norm(x)
        cross = []
        for layer in m.predictor.layers:
            k, v = layer.cross.kv(ctx).split(d, -1)
            cross.append((k, v))
        frame = _Frame(stamp, keys, cross, torch.as_tensor(gnss, dtype=torch.float32),
                       torch.as_tensor(power_dbm, dtype=torch.float32), present)
        self.frames.append(frame)
        window = list(self.frames)
        # predictor over the cached context
        xq = m.query_tokens()
        for li, layer in enumerate(m.predictor.layers):
            xq = xq + layer.self_attn(layer.norm1(xq)[None])[0]
            K = torch.cat([f.cross[li][0] for f in window], 0)
            V = torch.cat([f.cross[li][1] for f in window], 0)
            bias = layer.cross.lag_bias[:, lag].repeat_interleave(T, dim=1)
            o = _attend(layer.cross.q(layer.norm2(xq)), K, V, bias, nh)
            xq = xq + layer.cross.out(o)
            xq = xq + layer.mlp(layer.norm3(xq))
        z = m.predictor.norm(xq).reshape(c.future, c.queries_per_step, d).mean(1)
        out = _heads_for_window(m, z, window, stamps, classical)
        out.update(latents=z, context=ctx, tokens=tokens)
        return out


def _attend(q, K, V, bias, nh: int):
    """q [L, d], K/V [S, d], bias [heads, S] -> [L, d] (per-head softmax(q k^T / sqrt(dh) + bias) v)."""
    L, d = q.shape
    dh = d // nh
    qh = q.reshape(L, nh, dh).transpose(0, 1)
    kh = K.reshape(-1, nh, dh).transpose(0, 1)
    vh = V.reshape(-1, nh, dh).transpose(0, 1)
    s = qh @ kh.transpose(1, 2) / math.sqrt(dh) + bias[:, None, :]
    return (s.softmax(-1) @ vh).transpose(0, 1).reshape(L, d)


def _heads_for_window(m, z, window: list, stamps, classical=None):
    """`classical`: one frame's classical estimates (position [F,2], beam_logits [F,Bm], power_dbm [F],
    blockage [F], known scalar) when the model takes them."""
    n = len(window)
    gnss = torch.stack([f.gnss for f in window])[None]
    pdbm = torch.stack([f.power_dbm for f in window])[None]
    pres = torch.stack([f.present for f in window])[None]
    if classical is not None:
        classical = {k: torch.as_tensor(v)[None, None] for k, v in classical.items()}
    out = m.heads(z[None, None], gnss, pres, pdbm, torch.tensor([n - 1]), stamps[None], classical=classical)
    return {k: v[0, 0] for k, v in out.items()}


class GRUStreamingSession:
    """Frame-by-frame GRU baseline: carries the encoder state; keeps the last H frames for the coarse estimates."""

    def __init__(self, model: GRUBaseline):
        self.m = model
        self.reset()

    def reset(self):
        self.h = torch.zeros(1, self.m.c.hidden)
        self.frames: deque[_Frame] = deque(maxlen=self.m.c.history)

    @torch.no_grad()
    def step(self, camera, radar, lidar, gnss, power, power_dbm, present, stamp: int, classical=None):
        m = self.m
        present = torch.as_tensor(present).bool()
        tokens = m.tokenize(camera[None, None], radar[None, None], lidar[None, None], gnss[None, None],
                            power[None, None], present[None, None])
        self.h = m.encoder(m.features(tokens)[:, 0], self.h)
        z = m.predict(self.h[:, None], anchors=torch.tensor([0]))[0, 0]
        self.frames.append(_Frame(stamp, [], [], torch.as_tensor(gnss, dtype=torch.float32),
                                  torch.as_tensor(power_dbm, dtype=torch.float32), present))
        window = list(self.frames)
        stamps = torch.tensor([f.stamp for f in window], dtype=torch.long)
        out = _heads_for_window(m, z, window, stamps, classical)
        out.update(latents=z, state=self.h[0].clone(), tokens=tokens[0, 0])
        return out


def build(config) -> nn.Module:
    """The exportable model for a config: MultiTaskModel (v2) or GRUBaseline."""
    return GRUBaseline(config) if isinstance(config, GRUConfig) else MultiTaskModel(config)
