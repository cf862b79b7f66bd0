"""Validation metrics of the training runs (per future step and overall).

The same definitions as `foresight eval` (issue 10, section 4) so that figures printed during
training can be compared with the evaluation tables: beam top-1/top-3, the power lost by the chosen
beam (dB), ADE/FDE (m), power RMSE/MAE (dB) of the chosen beam's predicted power against its true power
(as `foresight eval`: truth in dBm, no floor above -300 dBm), the same over all 64 beams (both sides
clamped at the -120 dBm floor), blockage accuracy/precision/recall/F1. The scores are sums, so ranks of a distributed run add them up
(`all_reduce`) before `summary()`.
"""
from __future__ import annotations

import torch

FLOOR_DBM = -120.0


class Scorer:
    def __init__(self, future: int):
        self.F = future
        z = lambda: torch.zeros(future, dtype=torch.float64)
        self.s = {k: z() for k in ("n", "top1", "top3", "loss_db", "de", "pow_se", "pow_ae", "pow_n",
                                   "tp", "fp", "fn", "tn", "chosen_se", "chosen_ae", "chosen_n")}

    @torch.no_grad()
    def add(self, out: dict, tgt: dict, valid: torch.Tensor) -> None:
        """out: position [A,F,2], beam_logits [A,F,B], power_dbm [A,F,B], blockage_logit [A,F] (any may be
        missing); tgt: target_position, target_beam, target_power, target_blocked [A,F,...]; valid [A,F]."""
        v = valid & (tgt["target_beam"] >= 0)
        vf = v.double()
        self.s["n"] += vf.sum(0)
        if "beam_logits" in out:
            logits = out["beam_logits"].float()
            tb = tgt["target_beam"].clamp(min=0)
            top3 = logits.topk(3, dim=-1).indices
            hit1 = top3[..., 0] == tb
            hit3 = (top3 == tb[..., None]).any(-1)
            self.s["top1"] += (hit1 & v).double().sum(0)
            self.s["top3"] += (hit3 & v).double().sum(0)
            tp = tgt["target_power"].float()
            best = tp.gather(-1, tb[..., None]).squeeze(-1)
            chosen = tp.gather(-1, top3[..., :1]).squeeze(-1)
            self.s["loss_db"] += ((best - chosen) * vf).sum(0)
        if "position" in out:
            de = (out["position"].float() - tgt["target_position"].float()).norm(dim=-1)
            self.s["de"] += (de * vf).sum(0)
        if "power_dbm" in out:
            p = out["power_dbm"].float().clamp(min=FLOOR_DBM)
            t = tgt["target_power"].float().clamp(min=FLOOR_DBM)
            e = (p - t) * vf[..., None]
            self.s["pow_se"] += (e ** 2).sum((0, 2))
            self.s["pow_ae"] += e.abs().sum((0, 2))
            self.s["pow_n"] += vf.sum(0) * p.shape[-1]
            if "beam_logits" in out:  # power predicted for the chosen beam vs its true power
                ch = out["beam_logits"].argmax(-1, keepdim=True)
                traw = tgt["target_power"].float().clamp(min=-300.0)
                ce = (out["power_dbm"].float().gather(-1, ch) - traw.gather(-1, ch)).squeeze(-1) * vf
                self.s["chosen_se"] += (ce ** 2).sum(0)
                self.s["chosen_ae"] += ce.abs().sum(0)
                self.s["chosen_n"] += vf.sum(0)
        if "blockage_logit" in out:
            tb = tgt["target_blocked"]
            bv = v & (tb != 255)
            pred = out["blockage_logit"] > 0
            truth = tb == 1
            for key, m in (("tp", pred & truth), ("fp", pred & ~truth), ("fn", ~pred & truth), ("tn", ~pred & ~truth)):
                self.s[key] += (m & bv).double().sum(0)

    def all_reduce(self) -> None:
        import torch.distributed as dist
        if dist.is_available() and dist.is_initialized():
            for k in self.s:
                dist.all_reduce(self.s[k])

    def summary(self) -> dict:
        s = self.s
        n = s["n"].clamp(min=1)
        d = lambda a, b: (a / b.clamp(min=1))
        out = {"anchors": int(s["n"][0].item())}
        per = {
            "top1": d(s["top1"], n), "top3": d(s["top3"], n), "beam_loss_db": d(s["loss_db"], n),
            "de_m": d(s["de"], n), "power_rmse_db": d(s["chosen_se"], s["chosen_n"]).sqrt(),
            "power_mae_db": d(s["chosen_ae"], s["chosen_n"]), "beam_power_rmse_db": d(s["pow_se"], s["pow_n"]).sqrt(),
        }
        tp, fp, fn, tn = s["tp"], s["fp"], s["fn"], s["tn"]
        prec = d(tp, tp + fp)
        rec = d(tp, tp + fn)
        per["blockage_acc"] = d(tp + tn, tp + fp + fn + tn)
        per["blockage_precision"] = prec
        per["blockage_recall"] = rec
        per["blockage_f1"] = d(2 * tp, 2 * tp + fp + fn)
        tot = lambda a, b: (a.sum() / b.sum().clamp(min=1)).item()
        out["top1"] = tot(s["top1"], s["n"])
        out["top3"] = tot(s["top3"], s["n"])
        out["beam_loss_db"] = tot(s["loss_db"], s["n"])
        out["ade_m"] = tot(s["de"], s["n"])
        out["fde_m"] = per["de_m"][-1].item()
        out["power_rmse_db"] = tot(s["chosen_se"], s["chosen_n"]) ** 0.5
        out["power_mae_db"] = tot(s["chosen_ae"], s["chosen_n"])
        out["beam_power_rmse_db"] = tot(s["pow_se"], s["pow_n"]) ** 0.5
        out["beam_power_mae_db"] = tot(s["pow_ae"], s["pow_n"])
        out["blockage_acc"] = tot(tp + tn, tp + fp + fn + tn)
        out["blockage_precision"] = tot(tp, tp + fp)
        out["blockage_recall"] = tot(tp, tp + fn)
        out["blockage_f1"] = tot(2 * tp, 2 * tp + fp + fn)
        out["per_step"] = {k: [round(x, 4) for x in v.tolist()] for k, v in per.items()}
        return out


def format_summary(name: str, m: dict) -> str:
    return (f"{name:<22} top1 {m['top1']:.3f} top3 {m['top3']:.3f} beam-loss {m['beam_loss_db']:.2f} dB "
            f"ADE {m['ade_m']:.2f} m FDE {m['fde_m']:.2f} m power RMSE {m['power_rmse_db']:.2f} dB "
            f"blockage F1 {m['blockage_f1']:.3f} (anchors {m['anchors']})")
