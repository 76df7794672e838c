"""Train the participant-profile model: which kind of participant (market maker, HFT,
institution) produced a participant x symbol's last 32 order events.

It is the engine's reference transformer for the inference layer (tests, hot swap,
benchmarks): realistic surveillance size (2 layers, d_model 64, 4 heads, ff 128,
32 x 16 inputs), trained on order flow the engine itself encodes.

    npm run build
    node dist/models/tools/dump-sequences.js /tmp/profile-train 1,2,3,4 100000 16
    node dist/models/tools/dump-sequences.js /tmp/profile-val 101 50000 4
    python3 models/participant-profile/train.py --version 1 --epochs 2 --seed 1
    python3 models/participant-profile/train.py --version 2 --epochs 3 --seed 2
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from seqmodel import ORDER_SEQUENCE_FEATURES as FEATURES, SequenceTransformer, count_params, export, load_sequences as load  # noqa: E402



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default="/tmp/profile-train")
    ap.add_argument("--val", default="/tmp/profile-val")
    ap.add_argument("--version", type=int, required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    # SLUICE_MODELS_OUT: a registry root to write to instead of models/ (scripts/train-all.sh --out)
    ap.add_argument("--out", default=os.path.join(os.environ["SLUICE_MODELS_OUT"], "participant-profile") if os.environ.get("SLUICE_MODELS_OUT") else os.path.dirname(__file__))
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(2)
    Xtr, ytr, mtr = load(a.train)
    Xva, yva, mva = load(a.val)
    classes = mtr["classes"]
    model = SequenceTransformer(classes=len(classes))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(ytr))
        for i in range(0, len(perm), 256):
            idx = perm[i:i + 256]
            _, logits = model(Xtr[idx])
            loss = F.cross_entropy(logits, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            pred = torch.cat([model(Xva[i:i + 1024])[1].argmax(-1) for i in range(0, len(yva), 1024)])
        acc = (pred == yva).float().mean().item()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f} val accuracy {acc:.4f} ({time.time() - t0:.0f}s)")
    per_class = {c: round(float((pred[yva == k] == k).float().mean()), 4) for k, c in enumerate(classes)}
    out = os.path.join(a.out, str(a.version))
    m = export(model, out, "participant-profile", a.version, 32, 16, FEATURES, classes, {
        "data": f"demo order flow (apps/demo/orderflow.ts) seeds {mtr['seeds']} x {mtr['perSeed']} events, every {mtr['every']}th sequence: {len(ytr)} sequences; validation seed {mva['seeds']}: {len(yva)}",
        "command": f"python3 models/participant-profile/train.py --version {a.version} --epochs {a.epochs} --seed {a.seed}",
        "seeds": {"torch": a.seed, "train": mtr["seeds"], "validation": mva["seeds"]},
        "metrics": {"val_accuracy": round(acc, 4), "val_recall_per_class": per_class, "epochs": a.epochs},
        "parameters": count_params(model),
    }, "Kind of participant (market maker / HFT / institution) from a participant x symbol's last 32 order events; score = top class probability.")
    print(json.dumps(m["training"], indent=1))


if __name__ == "__main__":
    main()
