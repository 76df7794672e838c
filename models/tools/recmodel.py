"""The personalization models: an item tower that fuses an item's modalities (ID
embedding, text embedding, a team-supplied vector such as genre flags or image/audio
embeddings) with attention weights that can be read out, and a SASRec-style causal
self-attention user encoder over the user's recent behaviour (fused item vectors,
behaviour type, time gaps, values) joined with a static-profile vector.

Both export to ONNX for the engine (apps/personalization/): the item tower builds the
item table (and embeds catalogue items that arrive later, with no ID embedding: content
only), the user encoder maps a user's last L events to a user vector and the last
layer's attention over those events (the engine turns it into the push's reason).
"""
import hashlib, json, math, os

import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIONS = ["impression", "view", "click", "like", "comment", "share", "skip", "rate", "purchase"]
EVENT_FEATURES = ["action", "logGapSeconds", "value"]
MODALITIES = ["id", "text", "extra"]


def action_code(a):
    return ACTIONS.index(a) + 1  # 0 = padding


def value_feature(action, value):
    """rate: stars / 5; view: watched fraction; otherwise 0 (clamped to [0, 1])."""
    if value is None:
        return 0.0
    v = value / 5 if action == "rate" else value if action == "view" else 0.0
    return min(1.0, max(0.0, float(v)))


class ItemTower(nn.Module):
    def __init__(self, n_items, d=64, text_dim=384, extra_dim=1, use=(True, True, True)):
        super().__init__()
        self.id = nn.Embedding(n_items + 1, d, padding_idx=0)
        nn.init.normal_(self.id.weight, std=0.1)
        self.text = nn.Linear(text_dim, d)
        self.extra = nn.Linear(extra_dim, d)
        self.gate = nn.Linear(d, d)
        self.gate_v = nn.Linear(d, 1, bias=False)
        self.register_buffer("use", torch.tensor([float(u) for u in use]))

    def forward(self, item, text, extra, mask):
        """item [B,1] index as float (0 = none), text [B,T], extra [B,E], mask [B,3] presence -> vector [B,d], weights [B,3]"""
        mask = mask * self.use
        v = torch.stack([self.id(item[:, 0].long()), self.text(text), self.extra(extra)], dim=1)  # B,3,d
        logit = self.gate_v(torch.tanh(self.gate(v))).squeeze(-1).masked_fill(mask < 0.5, -1e9)
        w = torch.softmax(logit, dim=-1) * (mask.sum(-1, keepdim=True) > 0.5).float()
        return (w.unsqueeze(-1) * v).sum(1), w


class Block(nn.Module):
    def __init__(self, d, heads, dropout):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.ff = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Dropout(dropout), nn.Linear(d, d))
        self.h = heads
        self.drop = nn.Dropout(dropout)

    def forward(self, x, valid, last_only=False):
        B, L, d = x.shape
        h, dh = self.h, d // self.h
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        xq = x
        if last_only:  # causal: the last position's output needs only its own query
            q, xq = q[:, -1:, :], x[:, -1:, :]
        Lq = q.shape[1]
        q = q.reshape(B, Lq, h, dh).transpose(1, 2)
        k = k.reshape(B, L, h, dh).transpose(1, 2)
        v = v.reshape(B, L, h, dh).transpose(1, 2)
        att = q @ k.transpose(-1, -2) / math.sqrt(dh)
        qi = torch.arange(L - Lq, L).unsqueeze(1)
        allowed = (torch.arange(L).unsqueeze(0) <= qi).unsqueeze(0).unsqueeze(0) & valid.unsqueeze(1).unsqueeze(1)
        p = torch.softmax(att.masked_fill(~allowed, -1e9), dim=-1)
        out = (self.drop(p) @ v).transpose(1, 2).reshape(B, Lq, d)
        y = xq + self.drop(self.o(out))
        y = y + self.drop(self.ff(self.ln2(y)))
        return y, p.mean(1)


class UserEncoder(nn.Module):
    def __init__(self, d=64, length=50, layers=2, heads=2, profile_dim=1, dropout=0.2, use_profile=True):
        super().__init__()
        self.d, self.length = d, length
        self.pos = nn.Embedding(length, d)  # index 0 = the most recent event
        self.act = nn.Embedding(len(ACTIONS) + 1, d)
        self.gap = nn.Linear(1, d)
        self.val = nn.Linear(1, d)
        self.blocks = nn.ModuleList([Block(d, heads, dropout) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.prof = nn.Sequential(nn.Linear(profile_dim, d), nn.GELU(), nn.Linear(d, d))
        self.use_profile = 1.0 if use_profile else 0.0
        self.drop = nn.Dropout(dropout)

    def forward(self, seq, events, profile, last_only=False):
        """seq [B,L,d] item vectors (left-padded), events [B,L,3], profile [B,P] -> states, attention"""
        action = events[:, :, 0]
        valid = action > 0.5
        x = seq * math.sqrt(self.d) + self.pos.weight.flip(0).unsqueeze(0) + self.act(action.long()) \
            + self.gap(events[:, :, 1:2] / 16) + self.val(events[:, :, 2:3])
        x = self.drop(x) * valid.unsqueeze(-1).float()
        att = None
        for i, b in enumerate(self.blocks):
            x, att = b(x, valid, last_only and i == len(self.blocks) - 1)
        u = self.ln(x) + self.use_profile * self.prof(profile).unsqueeze(1)
        return u, att


class UserExport(nn.Module):
    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, seq, events, profile):
        u, att = self.enc(seq, events, profile, last_only=True)
        return u[:, 0, :], att[:, 0, :]


def _manifest(path, name, version, description, inputs, outputs, features, training):
    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    return {"name": name, "version": str(version), "file": "model.onnx", "sha256": sha, "opset": 14, "description": description,
            "inputs": inputs, "outputs": outputs, "features": features, "training": training}


def write_manifest(out_dir, m):
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(m, f, indent=2)
        f.write("\n")


def export_items(tower, out_dir, name, version, item_ids, text_dim, extra_features, training, description):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    tower.eval()
    E = len(extra_features)
    args = (torch.ones(2, 1), torch.zeros(2, text_dim), torch.zeros(2, E), torch.ones(2, 3))
    torch.onnx.export(tower, args, path, input_names=["item", "text", "extra", "mask"], output_names=["vector", "weights"],
                      dynamic_axes={n: {0: "batch"} for n in ["item", "text", "extra", "mask", "vector", "weights"]}, opset_version=14)
    d = tower.id.weight.shape[1]
    with open(os.path.join(out_dir, "items.txt"), "w") as f:
        f.write("\n".join(item_ids) + "\n")
    m = _manifest(path, name, version, description,
                  [{"name": "item", "dtype": "float32", "shape": [-1, 1]}, {"name": "text", "dtype": "float32", "shape": [-1, text_dim]},
                   {"name": "extra", "dtype": "float32", "shape": [-1, E]}, {"name": "mask", "dtype": "float32", "shape": [-1, 3]}],
                  [{"name": "vector", "dtype": "float32", "shape": [-1, d]}, {"name": "weights", "dtype": "float32", "shape": [-1, 3]}],
                  {"item": ["itemIndex"], "extra": list(extra_features), "mask": list(MODALITIES)}, training)
    write_manifest(out_dir, m)
    return m


def export_user(enc, out_dir, name, version, profile_features, training, description):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    enc.eval()
    L, d, P = enc.length, enc.d, len(profile_features)
    ev = torch.zeros(2, L, 3)
    ev[:, -1, 0] = 1
    torch.onnx.export(UserExport(enc), (torch.zeros(2, L, d), ev, torch.zeros(2, P)), path, input_names=["seq", "events", "profile"],
                      output_names=["user", "attention"], dynamic_axes={n: {0: "batch"} for n in ["seq", "events", "profile", "user", "attention"]}, opset_version=14)
    m = _manifest(path, name, version, description,
                  [{"name": "seq", "dtype": "float32", "shape": [-1, L, d]}, {"name": "events", "dtype": "float32", "shape": [-1, L, 3]},
                   {"name": "profile", "dtype": "float32", "shape": [-1, P]}],
                  [{"name": "user", "dtype": "float32", "shape": [-1, d]}, {"name": "attention", "dtype": "float32", "shape": [-1, L]}],
                  {"events": list(EVENT_FEATURES), "profile": list(profile_features)}, training)
    write_manifest(out_dir, m)
    return m


def count_params(*models):
    return sum(p.numel() for m in models for p in m.parameters())
