"""Shared model code: a small transformer encoder over event sequences, and ONNX export
with a manifest the Sluice registry validates (schemas/model-manifest.schema.json).

Export notes (PyTorch 1.13): the fused encoder fast path is not exportable, so the
activation is a plain callable and export runs with grad enabled; the batch axis is
dynamic, the sequence length fixed.
"""
import hashlib
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# the 16 per-event values of apps/surveillance/order-sequence.ts, in order
ORDER_SEQUENCE_FEATURES = ["isNew", "isCancel", "isReplace", "isExec", "side", "aggressive", "midpoint", "hidden", "logQty", "priceDevBps",
                           "logGapKey", "logOrderAge", "selfTrade", "hasCounterparty", "logGapSymbol", "qtyVsMean"]


def load_sequences(d):
    """X [N, L, F] float32 and y [N] from a dump-*.ts output folder (or several, comma-separated), with meta."""
    if "," in d:
        parts = [load_sequences(p) for p in d.split(",")]
        meta = dict(parts[0][2])
        meta["n"] = sum(p[2]["n"] for p in parts)
        meta["seeds"] = [s for p in parts for s in p[2]["seeds"]]
        meta["sources"] = [{k: p[2].get(k) for k in ("seeds", "family", "perSeed", "every", "background", "counts")} for p in parts]
        if any(p[2].get("features") != parts[0][2].get("features") for p in parts):
            raise ValueError(f"load_sequences: {d} mixes dumps of different encoders")
        if "counts" in meta:
            meta["counts"] = [sum(c) for c in zip(*(p[2]["counts"] for p in parts))]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]), meta
    import pyarrow as pa
    table = pa.ipc.open_file(os.path.join(d, "sequences.arrow")).read_all()
    meta = json.loads(table.schema.metadata[b"sluice.meta"])
    events = table.column("events").combine_chunks()
    X = events.flatten().to_numpy(zero_copy_only=False).reshape(meta["n"], meta["length"], meta["width"])
    y = table.column("label").to_numpy().astype(np.int64)
    # a writable copy: pyarrow's buffers are read-only, which torch warns about
    return torch.from_numpy(np.array(X, dtype=np.float32, copy=True)), torch.from_numpy(y), meta


class SequenceTransformer(nn.Module):
    """[B, L, F] events -> (score [B], logits [B, C]).

    Linear embedding + learned positions, `layers` pre-norm encoder layers, mean and
    last-token pooling, a class head. score = the top class probability
    (score_mode 'top'), or 1 - P(class 0) when class 0 means "normal" ('anomaly')."""

    def __init__(self, length=32, width=16, d_model=64, heads=4, ff=128, layers=2, classes=3, score_mode="top"):
        super().__init__()
        self.embed = nn.Linear(width, d_model)
        self.pos = nn.Parameter(torch.zeros(1, length, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, ff, dropout=0.1, activation=lambda x: F.gelu(x), batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.cls = nn.Linear(2 * d_model, classes)
        self.score_mode = score_mode

    def forward(self, x):
        h = self.encoder(self.embed(x) + self.pos)
        h = self.norm(h)
        pooled = torch.cat([h.mean(dim=1), h[:, -1, :]], dim=-1)
        logits = self.cls(pooled)
        return score_of(logits, self.score_mode), logits


def score_of(logits, mode):
    p = torch.softmax(logits, dim=-1)
    return p.max(dim=-1).values if mode == "top" else 1 - p[:, 0]


class SequenceLSTM(nn.Module):
    """Non-transformer baseline on the same inputs: a 2-layer LSTM, last hidden state."""

    def __init__(self, width=16, hidden=64, layers=2, classes=8, score_mode="anomaly"):
        super().__init__()
        self.lstm = nn.LSTM(width, hidden, layers, batch_first=True)
        self.cls = nn.Linear(hidden, classes)
        self.score_mode = score_mode

    def forward(self, x):
        h, _ = self.lstm(x)
        logits = self.cls(h[:, -1, :])
        return score_of(logits, self.score_mode), logits


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def export(model, out_dir, name, version, length, width, features, classes, training, description, input_name="events"):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    model.eval()
    dummy = torch.zeros(2, length, width)
    torch.onnx.export(
        model, (dummy,), path, input_names=[input_name], output_names=["score", "logits"],
        dynamic_axes={input_name: {0: "batch"}, "score": {0: "batch"}, "logits": {0: "batch"}}, opset_version=14,
    )
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    manifest = {
        "name": name, "version": str(version), "file": "model.onnx", "sha256": sha, "opset": 14,
        "description": description,
        "inputs": [{"name": input_name, "dtype": "float32", "shape": [-1, length, width]}],
        "outputs": [{"name": "score", "dtype": "float32", "shape": [-1]}, {"name": "logits", "dtype": "float32", "shape": [-1, len(classes)]}],
        "features": {input_name: list(features)},
        "classes": list(classes),
        "training": training,
    }
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


class IncrementalSequenceModel(nn.Module):
    """A sequence model whose per-event step is exact against a full re-encode of the window.

    [B, L, F] events -> (score [B], logits [B, C]), read out at the newest event, built so
    that nothing computed for an older event changes when the window slides:

    - each event is embedded on its own (an MLP, no position), and its attention keys and
      values for every hop are projected from that embedding alone: the event's *state
      row* [S = hops x 2 x dk], computed once when the event arrives;
    - the newest event's embedding queries the window's rows in `hops` rounds (multi-head
      attention, a residual MLP after each), with a position term that depends only on an
      event's age in the window (ALiBi-style: -slope_head x age, slopes learned per hop
      and head), never on its absolute slot;
    - a layer norm and a linear class head on the final query state.

    So the window's states are the concatenation of per-event rows, and scoring event t
    needs its own row plus the previous L-1 rows (the key's cache): `step`. `prefill`
    computes all L rows and the newest event's output from a window (a new key, after a
    restore or a rebalance). Zero-padded positions of a short history are embedded like
    any event, as the training windows have them.
    """

    def __init__(self, length=32, width=16, d_model=64, dk=32, heads=4, hops=2, ff=128, classes=8, score_mode="anomaly"):
        super().__init__()
        assert dk % heads == 0
        self.length, self.width, self.d_model, self.dk, self.heads, self.hops = length, width, d_model, dk, heads, hops
        self.score_mode = score_mode
        self.embed = nn.Sequential(nn.Linear(width, d_model), nn.GELU(), nn.Linear(d_model, d_model), nn.LayerNorm(d_model))
        self.kv = nn.Linear(d_model, hops * 2 * dk)
        self.q = nn.ModuleList(nn.Linear(d_model, dk) for _ in range(hops))
        self.qnorm = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(hops))
        self.o = nn.ModuleList(nn.Linear(dk, d_model) for _ in range(hops))
        self.mlp = nn.ModuleList(nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, ff), nn.GELU(), nn.Linear(ff, d_model)) for _ in range(hops))
        # per hop and head, how fast attention decays with age (softplus keeps it >= 0)
        self.slope_raw = nn.Parameter(torch.linspace(-3, 0, heads).repeat(hops, 1))
        self.norm = nn.LayerNorm(d_model)
        self.cls = nn.Linear(d_model, classes)

    @property
    def state_width(self):
        return self.hops * 2 * self.dk

    def rows(self, events):
        """[..., F] events -> ([..., d] embeddings, [..., S] state rows)"""
        e = self.embed(events)
        return e, self.kv(e)

    def readout(self, e_new, states, ages):
        """e_new [B, d], states [B, M, S] (every row the newest attends to, itself included), ages [B, M] -> logits"""
        B, M, _ = states.shape
        hd = self.dk // self.heads
        kv = states.reshape(B, M, self.hops, 2, self.heads, hd)
        slopes = F.softplus(self.slope_raw)  # [hops, heads]
        z = e_new
        for h in range(self.hops):
            q = self.q[h](self.qnorm[h](z)).reshape(B, self.heads, 1, hd)
            k = kv[:, :, h, 0].permute(0, 2, 3, 1)  # [B, heads, hd, M]
            v = kv[:, :, h, 1].permute(0, 2, 1, 3)  # [B, heads, M, hd]
            att = torch.matmul(q, k).squeeze(2) / math.sqrt(hd) - slopes[h].reshape(1, self.heads, 1) * ages.unsqueeze(1)
            w = torch.softmax(att, dim=-1).unsqueeze(2)  # [B, heads, 1, M]
            z = z + self.o[h](torch.matmul(w, v).reshape(B, self.dk))
            z = z + self.mlp[h](z)
        return self.cls(self.norm(z))

    def window_ages(self, B, M):
        return torch.arange(M - 1, -1, -1, dtype=torch.float32).unsqueeze(0).expand(B, M)

    def forward(self, x):
        """the full re-encode of a window: what training and the plain (stateless) graph run"""
        score, logits, _ = self.prefill(x)
        return score, logits

    def prefill(self, x):
        """[B, L, F] window -> (score, logits, states [B, L, S]) for its newest event"""
        e, s = self.rows(x)
        logits = self.readout(e[:, -1], s, self.window_ages(x.shape[0], x.shape[1]))
        return score_of(logits, self.score_mode), logits, s

    def step(self, event, cache, ages):
        """event [B, F], cache [B, L-1, S] (the key's previous rows, any order), ages [B, L-1] (each row's
        age: 1 = the previous event) -> (score, logits, state [B, S]) of the new event"""
        e, s = self.rows(event)
        states = torch.cat([cache, s.unsqueeze(1)], dim=1)
        all_ages = torch.cat([ages, torch.zeros_like(ages[:, :1])], dim=1)
        logits = self.readout(e, states, all_ages)
        return score_of(logits, self.score_mode), logits, s


class _Prefill(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m.prefill(x)


class _Step(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, event, cache, ages):
        return self.m.step(event, cache, ages)


def export_incremental(model, out_dir):
    """prefill.onnx and step.onnx beside model.onnx (which export() writes: the same weights as a plain
    window graph). Returns the manifest's `incremental` block."""
    model.eval()
    L, W, S = model.length, model.width, model.state_width
    p_path, s_path = os.path.join(out_dir, "prefill.onnx"), os.path.join(out_dir, "step.onnx")
    torch.onnx.export(_Prefill(model), (torch.zeros(2, L, W),), p_path, input_names=["events"], output_names=["score", "logits", "states"],
                      dynamic_axes={"events": {0: "batch"}, "score": {0: "batch"}, "logits": {0: "batch"}, "states": {0: "batch"}}, opset_version=14)
    torch.onnx.export(_Step(model), (torch.zeros(2, W), torch.zeros(2, L - 1, S), torch.ones(2, L - 1)), s_path,
                      input_names=["event", "cache", "ages"], output_names=["score", "logits", "state"],
                      dynamic_axes={"event": {0: "batch"}, "cache": {0: "batch"}, "ages": {0: "batch"}, "score": {0: "batch"}, "logits": {0: "batch"}, "state": {0: "batch"}},
                      opset_version=14)
    sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()  # noqa: E731
    return {
        "length": L, "width": W, "stateWidth": S,
        "prefill": {"file": "prefill.onnx", "sha256": sha(p_path), "inputs": {"events": [-1, L, W]}, "outputs": {"score": [-1], "logits": [-1, model.cls.out_features], "states": [-1, L, S]}},
        "step": {"file": "step.onnx", "sha256": sha(s_path), "inputs": {"event": [-1, W], "cache": [-1, L - 1, S], "ages": [-1, L - 1]}, "outputs": {"score": [-1], "logits": [-1, model.cls.out_features], "state": [-1, S]}},
    }


def check_incremental(model, x, tol=1e-4):
    """step-by-step over a sequence == prefill of each sliding window (the property the graphs promise)"""
    model.eval()
    L = model.length
    with torch.no_grad():
        _, _, states = model.prefill(x[:, :L])
        cache = list(states[:, 1:].unbind(1))  # the L-1 newest rows
        worst = 0.0
        for t in range(L, x.shape[1]):
            sc, lg, s = model.step(x[:, t], torch.stack(cache, 1), model.window_ages(x.shape[0], L - 1) + 1)
            ref_sc, ref_lg, _ = model.prefill(x[:, t - L + 1:t + 1])
            worst = max(worst, (lg - ref_lg).abs().max().item(), (sc - ref_sc).abs().max().item())
            cache = cache[1:] + [s]
    assert worst <= tol, f"incremental step differs from the full re-encode by {worst}"
    return worst
