"""Reader for the dataset written by `foresight dataset` (CONTRACT-learned.md section 1).

    DIR/manifest.json
    DIR/<scenario>-<seed>.safetensors    one shard per drive, frames in order

The training CPU lever lives here: a drive is never cut into independent overlapping windows.
Each *segment* (frames between two model resets) is cut into long crops (e.g. 48 frames) that
overlap by history-1 frames; the model encodes a crop once with its banded block-causal encoder and
every frame of the crop becomes an anchor. An anchor is only supervised where its history inside
the crop is exactly what the streaming daemon would have seen (full history, or the segment start),
so training computes what inference computes.

A segment shorter than the row length is one row whose rest is padding (a pseudo-segment with no
modality present and no anchor), so every batch is a dense [B, L] block.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

FORMAT = "foresight-dataset"
VERSION = 1
TEST_SEEDS = range(1000, 1020)
MODALITIES = ("camera", "radar", "lidar", "gnss", "beam_power")
FLOOR_COARSE_DBM = -100.0   # classical power of padding frames (never supervised)
# Tensors read per frame and their dtypes in the shard (contract table).
FRAME_KEYS = {
    "stamp": "I64", "segment": "I32", "camera": "F16", "radar": "F16", "lidar": "F16",
    "gnss": "F32", "power": "F32", "power_dbm": "F32", "present": "U8",
    "target_valid": "U8", "target_position": "F32", "target_beam": "I64",
    "target_power": "F32", "target_blocked": "U8",
    # the classical predictor's estimates of each step (the learned heads' coarse inputs)
    "coarse_position": "F32", "coarse_beam_logits": "F32", "coarse_power_dbm": "F32", "coarse_blockage": "F32",
    "coarse_known": "U8",
}
# Optional (datasets from `foresight dataset` since the per-dead-sensor estimates): the classical estimates
# from the window with one modality removed, [N, 5 (MODALITIES order), ...] — what the daemon's classical
# predictor gives when that sensor is dead; the head cache's modality-dropout views use them.
DROPPED_KEYS = {"coarse_dropped_position": "F32", "coarse_dropped_beam_logits": "F32", "coarse_dropped_power_dbm": "F32",
                "coarse_dropped_blockage": "F32", "coarse_dropped_known": "U8"}


class DatasetError(Exception):
    """A dataset that cannot be used, with the file and what to do."""


@dataclass
class Shard:
    path: Path
    scenario: str
    seed: int
    split: str
    frames: int
    segments: list[tuple[int, int]] = field(default_factory=list)  # [start, end) frame ranges
    has_dropped: bool = False  # holds the per-dead-sensor classical estimates (DROPPED_KEYS)
    _handle: object = None

    def handle(self):
        if self._handle is None:
            from safetensors import safe_open
            self._handle = safe_open(str(self.path), framework="np")
        return self._handle

    def read(self, key: str, start: int, end: int) -> np.ndarray:
        return self.handle().get_slice(key)[start:end]

    def __getstate__(self):  # safe_open handles do not pickle (DataLoader workers)
        d = dict(self.__dict__)
        d["_handle"] = None
        return d


@dataclass
class Piece:
    """Frames [start, end) of one shard, starting a segment inside its row.

    Anchors of this piece are frames [first_anchor, anchor_end) (absolute): their history inside the
    piece equals the streaming history (the piece starts at the segment start, or they are at least
    history-1 frames into it), and their future frames are inside it unless the segment ends.
    """
    shard: int
    start: int
    end: int
    first_anchor: int
    anchor_end: int


class ForesightDataset:
    """The manifest, its shards and their segments; `rows()` plans crops, `batch()` loads them."""

    def __init__(self, root: Path | str, splits: tuple[str, ...] = ("train",), min_segment: int | None = None):
        self.root = Path(root)
        mpath = self.root / "manifest.json"
        if not mpath.is_file():
            raise DatasetError(f"{mpath}: no manifest; write a dataset with `foresight dataset ... --out {self.root}`")
        try:
            m = json.loads(mpath.read_text())
        except json.JSONDecodeError as e:
            raise DatasetError(f"{mpath}: not JSON ({e}); regenerate the dataset") from e
        if m.get("format") != FORMAT or m.get("version") != VERSION:
            raise DatasetError(f"{mpath}: format {m.get('format')!r} version {m.get('version')!r}, "
                               f"expected {FORMAT!r} version {VERSION}; regenerate with this checkout's `foresight dataset`")
        for key in ("preprocessing_version", "history", "future", "step_ms", "beams", "shapes", "shards"):
            if key not in m:
                raise DatasetError(f"{mpath}: missing key {key!r}; regenerate the dataset")
        self.manifest = m
        self.preprocessing_version: str = m["preprocessing_version"]
        self.history: int = int(m["history"])
        self.future: int = int(m["future"])
        self.step_ms: int = int(m["step_ms"])
        self.beams: int = int(m["beams"])
        self.shapes = {k: tuple(int(x) for x in v) for k, v in m["shapes"].items()}
        for k, n in (("camera", 3), ("radar", 2), ("lidar", 2)):
            if len(self.shapes.get(k, ())) != n:
                raise DatasetError(f"{mpath}: shapes.{k} must have {n} dimensions, got {m['shapes'].get(k)}")
        min_segment = min_segment or 2
        self.shards: list[Shard] = []
        for s in m["shards"]:
            seed, split = int(s["seed"]), s["split"]
            if split in ("train", "val") and seed in TEST_SEEDS:
                raise DatasetError(f"{mpath}: shard {s['file']} has test seed {seed} in split {split!r}; "
                                   "seeds 1000-1019 are test drives and never train or validate")
            if split not in splits:
                continue
            shard = Shard(self.root / s["file"], s.get("scenario", "?"), seed, split, int(s["frames"]))
            self._check_shard(shard)
            self.shards.append(shard)
        if not self.shards:
            raise DatasetError(f"{mpath}: no shard in split(s) {', '.join(splits)}")
        self.min_segment = min_segment
        # Per-dead-sensor classical estimates only when every shard has them (older datasets do not).
        self.has_dropped: bool = all(sh.has_dropped for sh in self.shards)

    def _check_shard(self, shard: Shard) -> None:
        if not shard.path.is_file():
            raise DatasetError(f"{shard.path}: listed in the manifest but missing; regenerate the dataset")
        h = shard.handle()
        names = set(h.keys())
        missing = [k for k in FRAME_KEYS if k not in names]
        if missing:
            raise DatasetError(f"{shard.path}: missing tensors {missing}; regenerate the dataset")
        N, F, B = shard.frames, self.future, self.beams
        expect = {
            "stamp": (N,), "segment": (N,), "camera": (N, *self.shapes["camera"]), "radar": (N, *self.shapes["radar"]),
            "lidar": (N, *self.shapes["lidar"]), "gnss": (N, 2), "power": (N, B), "power_dbm": (N, B),
            "present": (N, 5), "target_valid": (N, F), "target_position": (N, F, 2), "target_beam": (N, F),
            "target_power": (N, F, B), "target_blocked": (N, F),
            "coarse_position": (N, F, 2), "coarse_beam_logits": (N, F, B), "coarse_power_dbm": (N, F),
            "coarse_blockage": (N, F), "coarse_known": (N,),
        }
        M = len(MODALITIES)
        dropped = {"coarse_dropped_position": (N, M, F, 2), "coarse_dropped_beam_logits": (N, M, F, B),
                   "coarse_dropped_power_dbm": (N, M, F), "coarse_dropped_blockage": (N, M, F), "coarse_dropped_known": (N, M)}
        shard.has_dropped = all(k in names for k in DROPPED_KEYS)
        if shard.has_dropped:
            expect.update(dropped)
        for k, shape in expect.items():
            got = tuple(h.get_slice(k).get_shape())
            if got != shape:
                raise DatasetError(f"{shard.path}: tensor {k} has shape {list(got)}, the manifest implies {list(shape)}")
            dt = h.get_slice(k).get_dtype()
            if dt != {**FRAME_KEYS, **DROPPED_KEYS}[k]:
                raise DatasetError(f"{shard.path}: tensor {k} has dtype {dt}, expected {FRAME_KEYS[k]}")
        seg = h.get_tensor("segment")
        cuts = np.flatnonzero(np.diff(seg) != 0) + 1
        bounds = [0, *cuts.tolist(), N]
        shard.segments = [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b - a >= 2]

    # ------------------------------------------------------------------ planning
    @property
    def frames(self) -> int:
        return sum(b - a for s in self.shards for a, b in s.segments)

    def anchors(self) -> int:
        return self.frames

    def rows(self, length: int, rng: np.random.Generator | None, rank: int = 0, world: int = 1,
             batch: int = 1, pad: bool = True) -> list[list[Piece]]:
        """Crops of every segment as rows of `length` frames; shuffled if `rng` is given.

        Consecutive crops of a segment overlap by history-1+future frames, and each frame is an
        anchor in exactly one crop: one where its full streaming history (or the segment start) and
        its `future` following frames lie inside the crop. With `rng`, the crop grid is shifted by a
        random offset per segment (different crop boundaries each epoch) and the rows are shuffled.
        Rows are dealt to `world` ranks; with `pad`, every rank gets the same number of rows (a
        multiple of `batch`; a few rows repeat to fill the last batch), as synchronous data-parallel
        training needs; without it (evaluation) every anchor occurs exactly once over all ranks.
        """
        H, F = self.history, self.future
        if length <= H + F:
            raise ValueError(f"crop length {length} must exceed history + future = {H + F}")
        stride = length - (H - 1) - F
        pieces: list[Piece] = []
        for si, shard in enumerate(self.shards):
            for a, b in shard.segments:
                if b - a <= length:
                    pieces.append(Piece(si, a, b, a, b))
                    continue
                r = int(rng.integers(0, stride)) if rng is not None else 0
                starts = [a]
                s = a + stride - r
                while s + length < b:
                    starts.append(s)
                    s += stride
                starts.append(b - length)
                prev = a
                for s in starts:
                    e = s + length
                    first = a if s == a else max(s + H - 1, prev)
                    last = b if e == b else e - F
                    if first < last:
                        pieces.append(Piece(si, s, e, first, last))
                        prev = last
        if rng is not None:
            order = rng.permutation(len(pieces))
            pieces = [pieces[i] for i in order]
        # One piece per row (a short segment is padded): the predictor's window of an anchor is the
        # H frames before it in the row, so two segments must never share a row.
        rows: list[list[Piece]] = [[p] for p in pieces]
        if not pad:
            return rows[rank::world]
        unit = world * batch
        if len(rows) % unit:
            extra = unit - len(rows) % unit
            pick = range(extra) if rng is None else rng.integers(0, len(rows), extra)
            rows += [rows[int(i) % len(rows)] for i in pick]
        return rows[rank::world]

    # ------------------------------------------------------------------ loading
    def batch(self, rows: list[list[Piece]], length: int) -> dict[str, torch.Tensor]:
        """Load rows into dense tensors [B, L, ...] (float32 inputs, padding has nothing present)."""
        B, L, F, NB = len(rows), length, self.future, self.beams
        c, hc, wc = self.shapes["camera"]
        ra, rr = self.shapes["radar"]
        lh, lw = self.shapes["lidar"]
        out = {
            "camera": torch.zeros(B, L, c, hc, wc),
            "radar": torch.zeros(B, L, 1, ra, rr),
            "lidar": torch.zeros(B, L, 1, lh, lw),
            "gnss": torch.zeros(B, L, 2),
            "power": torch.zeros(B, L, NB),
            "power_dbm": torch.zeros(B, L, NB),
            "present": torch.zeros(B, L, 5, dtype=torch.bool),
            "stamp": torch.zeros(B, L, dtype=torch.int64),
            "segment_start": torch.zeros(B, L, dtype=torch.bool),
            "anchor": torch.zeros(B, L, dtype=torch.bool),     # supervised anchor (streaming-exact history)
            "piece_end": torch.zeros(B, L, dtype=torch.int64),  # index (in row) one past the frame's piece
            "target_valid": torch.zeros(B, L, F, dtype=torch.bool),
            "target_position": torch.zeros(B, L, F, 2),
            "target_beam": torch.full((B, L, F), -1, dtype=torch.int64),
            "target_power": torch.zeros(B, L, F, NB),
            "target_blocked": torch.full((B, L, F), 255, dtype=torch.uint8),
            "coarse_position": torch.zeros(B, L, F, 2),
            "coarse_beam_logits": torch.zeros(B, L, F, NB),
            "coarse_power_dbm": torch.full((B, L, F), FLOOR_COARSE_DBM),
            "coarse_blockage": torch.full((B, L, F), 0.5),
            "coarse_known": torch.zeros(B, L, dtype=torch.bool),
        }
        M = len(MODALITIES)
        dropped = self.has_dropped
        if dropped:
            out.update({"coarse_dropped_position": torch.zeros(B, L, M, F, 2),
                        "coarse_dropped_beam_logits": torch.zeros(B, L, M, F, NB),
                        "coarse_dropped_power_dbm": torch.full((B, L, M, F), FLOOR_COARSE_DBM),
                        "coarse_dropped_blockage": torch.full((B, L, M, F), 0.5),
                        "coarse_dropped_known": torch.zeros(B, L, M, dtype=torch.bool)})
        for b, row in enumerate(rows):
            at = 0
            for p in row:
                sh = self.shards[p.shard]
                n = p.end - p.start
                sl = slice(at, at + n)
                rd = lambda k: torch.from_numpy(np.ascontiguousarray(sh.read(k, p.start, p.end)))
                out["camera"][b, sl] = rd("camera").float()
                out["radar"][b, sl, 0] = rd("radar").float()
                out["lidar"][b, sl, 0] = rd("lidar").float()
                out["gnss"][b, sl] = rd("gnss")
                out["power"][b, sl] = rd("power")
                out["power_dbm"][b, sl] = rd("power_dbm")
                out["present"][b, sl] = rd("present").bool()
                out["stamp"][b, sl] = rd("stamp")
                out["segment_start"][b, at] = True
                out["anchor"][b, at + (p.first_anchor - p.start):at + (p.anchor_end - p.start)] = True
                out["piece_end"][b, sl] = at + n
                out["target_valid"][b, sl] = rd("target_valid").bool()
                out["target_position"][b, sl] = rd("target_position")
                out["target_beam"][b, sl] = rd("target_beam")
                out["target_power"][b, sl] = rd("target_power")
                out["target_blocked"][b, sl] = rd("target_blocked")
                for k in ("coarse_position", "coarse_beam_logits", "coarse_power_dbm", "coarse_blockage"):
                    out[k][b, sl] = rd(k)
                out["coarse_known"][b, sl] = rd("coarse_known").bool()
                if dropped:
                    for k in ("coarse_dropped_position", "coarse_dropped_beam_logits", "coarse_dropped_power_dbm",
                              "coarse_dropped_blockage"):
                        out[k][b, sl] = rd(k)
                    out["coarse_dropped_known"][b, sl] = rd("coarse_dropped_known").bool()
                at += n
            if at < L:  # padding: its own pseudo-segment, nothing present, no anchor
                out["segment_start"][b, at] = True
                out["piece_end"][b, at:] = L
                last = out["stamp"][b, at - 1] if at > 0 else 0
                out["stamp"][b, at:] = last + torch.arange(1, L - at + 1) * self.step_ms * 1_000_000
        # targets are only meaningful where the truth is known
        tv = out["target_valid"]
        tv &= out["target_beam"] >= 0
        return out


def segment_first_index(segment_start: torch.Tensor) -> torch.Tensor:
    """For each frame, the row index of its segment's first frame: [B, L] -> [B, L]."""
    B, L = segment_start.shape
    ar = torch.arange(L).expand(B, L)
    marked = torch.where(segment_start, ar, torch.zeros_like(ar))
    return torch.cummax(marked, dim=1).values
