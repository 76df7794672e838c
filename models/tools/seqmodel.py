"""Shared model code: a small transformer encoder over event sequences, and ONNX export
with a manifest the Sluice registry validates (schemas/model-manifest.schema.json).

Export notes (PyTorch 1.13): the fused encoder fast path is not exportable, so the
activation is a plain callable and export runs with grad enabled; the batch axis is
dynamic, the sequence length fixed.
"""
import hashlib
import json
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
        meta["sources"] = [{k: p[2].get(k) for k in ("seeds", "perSeed", "every", "background", "counts")} for p in parts]
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
