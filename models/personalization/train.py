"""Train the personalization models and export them to models/ (item tower + user encoder).

    # SASRec's Games benchmark (IDs only: the data has no item content or profiles)
    .venv-train/bin/python -u models/personalization/train.py games
    # MovieLens 100K, from the engine's own inputs (node dist/apps/personalization/movielens.js /tmp/ml)
    .venv-train/bin/python -u models/personalization/train.py movielens --ml-dir /tmp/ml --variant full|no-content|no-profile

Games: SASRec's split (per user: last item test, the one before validation, the rest
training); trained on the training part only, epoch chosen on validation HR/NDCG@10
(100 uniform negatives the user never touched, 10,000 sampled users), test never seen.
Loss: softmax cross-entropy of the next item against 256 uniformly sampled items.

MovieLens: events in time order; events before the 70% time cut train, [70%, 80%)
choose the epoch (online next-event HR/NDCG@10 over the full catalogue), events from
80% on are the engine's streaming evaluation (bench/eval-personalization.ts) and are
never seen here. Full-catalogue softmax; 20% of items per step lose their ID embedding
so the fusion learns to rank items by content alone (new items).
"""
import argparse, json, math, os, random, sys, time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from recmodel import ACTIONS, ItemTower, UserEncoder, action_code, count_params, export_items, export_user, value_feature  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODELS = os.path.join(ROOT, "models")
# SLUICE_MODELS_OUT: a registry root to write to instead of models/ (scripts/train-all.sh --out);
# the text encoder is read from there when it was exported there
OUT = os.environ.get("SLUICE_MODELS_OUT") or MODELS
TEXT_ENCODER = os.path.join(OUT if os.path.exists(os.path.join(OUT, "text-encoder", "1", "model.onnx")) else MODELS, "text-encoder", "1", "model.onnx")


def left_pad(xs, L, fill=0):
    xs = xs[-L:]
    return [fill] * (L - len(xs)) + list(xs)


def metrics_at_10(scores):
    """scores [N, C] with the true item in column 0 -> HR@10, NDCG@10 (ties count against)"""
    rank = (scores[:, 1:] >= scores[:, :1]).sum(1)
    hit = rank < 10
    return hit.float().mean().item(), (hit.float() / torch.log2(rank.float() + 2)).mean().item()


# ---------------------------------------------------------------- games
def games(args):
    torch.manual_seed(args.seed); random.seed(args.seed); np.random.seed(args.seed)
    seqs = {}
    for line in open(args.games):
        u, i = line.split()
        seqs.setdefault(int(u), []).append(int(i))
    n_items = max(i for s in seqs.values() for i in s)
    train, valid = {}, {}
    for u, s in seqs.items():
        if len(s) < 3:
            train[u] = s
        else:
            train[u], valid[u] = s[:-2], s[-2]
    L, d = args.length, args.d
    tower = ItemTower(n_items, d, 384, 1, use=(True, False, False))
    enc = UserEncoder(d, L, args.layers, args.heads, profile_dim=1, dropout=args.dropout, use_profile=False)
    params = list(tower.parameters()) + list(enc.parameters())
    opt = torch.optim.Adam(params, lr=args.lr)
    users = [u for u, s in train.items() if len(s) >= 2]
    ev_row = [float(action_code("purchase")), 0.0, 0.0]
    # validation: 10,000 users, 100 uniform negatives each the user never touched
    rng = np.random.default_rng(args.seed + 1)
    vusers = [u for u in valid]
    vusers = list(rng.choice(vusers, size=min(10000, len(vusers)), replace=False))
    vcand = []
    for u in vusers:
        seen = set(seqs[u]); c = [valid[u]]
        while len(c) < 101:
            t = int(rng.integers(1, n_items + 1))
            if t not in seen:
                c.append(t)
        vcand.append(c)
    vseq = torch.tensor([left_pad(train[u], L) for u in vusers])
    vcand = torch.tensor(vcand)

    def evaluate(seq, cand):
        tower.eval(); enc.eval()
        with torch.no_grad():
            table = tower.id.weight
            out = []
            for a in range(0, len(seq), 1024):
                s = seq[a:a + 1024]
                ev = torch.zeros(len(s), L, 3); ev[s > 0] = torch.tensor(ev_row)
                u, _ = enc(table[s], ev, torch.zeros(len(s), 1), last_only=True)
                out.append((u[:, 0, :].unsqueeze(1) * table[cand[a:a + 1024]]).sum(-1))
        tower.train(); enc.train()
        return metrics_at_10(torch.cat(out))

    best, best_state, log = (-1, -1), None, []
    inp_all = torch.tensor([left_pad(train[u][:-1], L) for u in users])
    tgt_all = torch.tensor([left_pad(train[u][1:], L) for u in users])
    for epoch in range(1, args.epochs + 1):
        t0 = time.time(); perm = torch.randperm(len(users)); total = 0.0
        for a in range(0, len(users), args.batch):
            idx = perm[a:a + args.batch]
            inp, tgt = inp_all[idx], tgt_all[idx]
            table = tower.id.weight
            ev = torch.zeros(len(idx), L, 3); ev[inp > 0] = torch.tensor(ev_row)
            states, _ = enc(table[inp], ev, torch.zeros(len(idx), 1))
            negs = torch.randint(1, n_items + 1, (args.negatives,))
            pos = (states * table[tgt]).sum(-1, keepdim=True)
            neg = states @ table[negs].T
            neg = neg.masked_fill(negs.view(1, 1, -1) == tgt.unsqueeze(-1), -1e9)
            logits = torch.cat([pos, neg], -1)
            m = tgt > 0
            loss = F.cross_entropy(logits[m], torch.zeros(int(m.sum()), dtype=torch.long))
            opt.zero_grad(); loss.backward(); opt.step(); total += loss.item()
        if epoch % args.eval_every == 0 or epoch == args.epochs:
            hr, ndcg = evaluate(vseq, vcand)
            log.append({"epoch": epoch, "loss": total, "valid_hr10": hr, "valid_ndcg10": ndcg})
            print(f"epoch {epoch} loss {total:.1f} valid HR@10 {hr:.4f} NDCG@10 {ndcg:.4f} ({time.time() - t0:.1f}s)", flush=True)
            if ndcg > best[1]:
                best = (hr, ndcg, epoch)
                best_state = ({k: v.clone() for k, v in tower.state_dict().items()}, {k: v.clone() for k, v in enc.state_dict().items()})
    tower.load_state_dict(best_state[0]); enc.load_state_dict(best_state[1])
    # the test split, evaluated here too as a cross-check of the engine's evaluation
    tusers = [u for u in vusers]
    tcand = []
    for u in tusers:
        seen = set(seqs[u]); c = [seqs[u][-1]]
        while len(c) < 101:
            t = int(rng.integers(1, n_items + 1))
            if t not in seen:
                c.append(t)
        tcand.append(c)
    thr, tndcg = evaluate(torch.tensor([left_pad(seqs[u][:-1], L) for u in tusers]), torch.tensor(tcand))
    print(f"best epoch {best[2]}: valid HR@10 {best[0]:.4f} NDCG@10 {best[1]:.4f}; test (python cross-check) HR@10 {thr:.4f} NDCG@10 {tndcg:.4f}")
    training = {"data": "../shared/data/seqrec/games.txt (SASRec Video Games: 31,013 users, 23,715 items); SASRec split, training part only",
                "command": "python -u models/personalization/train.py " + " ".join(sys.argv[1:]),
                "seeds": {"torch": args.seed, "validation_sample": args.seed + 1},
                "metrics": {"best_epoch": best[2], "valid_hr10": best[0], "valid_ndcg10": best[1], "test_hr10_python": thr, "test_ndcg10_python": tndcg, "log": log},
                "parameters": count_params(tower, enc)}
    hp = f"d {d}, {args.layers} layers, {args.heads} heads, L {L}, dropout {args.dropout}, lr {args.lr}, batch {args.batch}, {args.negatives} sampled negatives"
    v = args.version
    export_items(tower, os.path.join(OUT, "games-items", v), "games-items", v, [str(i) for i in range(1, n_items + 1)], 384, ["none"], training,
                 f"Games item tower (ID embeddings only; text/extra inputs unused): {hp}")
    export_user(enc, os.path.join(OUT, "games-user", v), "games-user", v, ["known"], training,
                f"Games SASRec-style user encoder: {hp}")


# ---------------------------------------------------------------- movielens
def read_jsonl(p):
    return [json.loads(l) for l in open(p) if l.strip()]


def text_embeddings(texts):
    import onnxruntime as ort
    from transformers import BertTokenizer
    tok = BertTokenizer(os.path.join(MODELS, "text-encoder", "vocab.txt"), do_lower_case=True)
    sess = ort.InferenceSession(TEXT_ENCODER)
    out = []
    for a in range(0, len(texts), 256):
        e = tok(texts[a:a + 256], padding="max_length", truncation=True, max_length=32, return_tensors="np")
        out.append(sess.run(None, {"ids": e["input_ids"].astype(np.float32), "mask": e["attention_mask"].astype(np.float32)})[0])
    return torch.from_numpy(np.concatenate(out))


def profile_vector(p, features):
    v = []
    for f in features:
        if p is None:
            v.append(0.0); continue
        if f == "known": v.append(1.0)
        elif f == "age": v.append(float(p.get("age", 0)) / 100)
        elif f.startswith("gender="): v.append(1.0 if p.get("gender") == f[7:] else 0.0)
        elif f.startswith("occupation="): v.append(1.0 if p.get("occupation") == f[11:] else 0.0)
        else: v.append(0.0)
    return v


def movielens(args):
    torch.manual_seed(args.seed); random.seed(args.seed); np.random.seed(args.seed)
    meta = json.load(open(os.path.join(args.ml_dir, "meta.json")))
    events = read_jsonl(os.path.join(args.ml_dir, "events.jsonl"))
    cat = read_jsonl(os.path.join(args.ml_dir, "catalogue.jsonl"))
    profiles = {p["userId"]: p for p in read_jsonl(os.path.join(args.ml_dir, "profiles.jsonl"))}
    cut_train, cut_valid = meta["cuts"]["train"], meta["cuts"]["valid"]
    pfeat = ["known", "age", "gender=M", "gender=F"] + [f"occupation={o}" for o in meta["occupations"]]
    extra_feat = [f"genre={g}" for g in meta["genres"]] + ["releaseYear"]
    row = {c["itemId"]: k + 1 for k, c in enumerate(cat)}  # catalogue row (0 = padding)
    vocab = sorted({e["itemId"] for e in events if e["ts"] < cut_train}, key=lambda x: int(x))
    vidx = {it: k + 1 for k, it in enumerate(vocab)}
    N = len(cat)
    cache = os.path.join(args.ml_dir, "text-embeddings.npy")  # the same for every variant: embed once
    if os.path.exists(cache) and np.load(cache).shape[0] == len(cat):
        emb = torch.from_numpy(np.load(cache))
    else:
        emb = text_embeddings([c["text"] for c in cat])
        np.save(cache, emb.numpy())
    text = torch.cat([torch.zeros(1, 384), emb])
    extra = torch.cat([torch.zeros(1, len(extra_feat)), torch.tensor([c["vector"] for c in cat], dtype=torch.float32)])
    idcol = torch.tensor([[0.0]] + [[float(vidx.get(c["itemId"], 0))] for c in cat])
    mask = torch.tensor([[0.0, 0.0, 0.0]] + [[1.0 if vidx.get(c["itemId"]) else 0.0, 1.0, 1.0] for c in cat])
    use = {"full": (True, True, True), "no-content": (True, False, False), "no-profile": (True, True, True)}[args.variant]
    L, d = args.length, args.d
    tower = ItemTower(len(vocab), d, 384, len(extra_feat), use=use)
    enc = UserEncoder(d, L, args.layers, args.heads, profile_dim=len(pfeat), dropout=args.dropout, use_profile=args.variant != "no-profile")
    opt = torch.optim.Adam(list(tower.parameters()) + list(enc.parameters()), lr=args.lr)

    # per-user event rows: catalogue row, [action, log gap, value], ts
    hist = {}
    for e in events:
        h = hist.setdefault(e["userId"], [])
        gap = (e["ts"] - h[-1][2]) / 1e6 if h else 0.0
        h.append((row[e["itemId"]], [float(action_code(e["action"])), math.log1p(max(0.0, gap)), value_feature(e["action"], e.get("value"))], e["ts"]))
    prof = {u: profile_vector(profiles.get(u), pfeat) for u in hist}
    # training windows (events before the train cut), L inputs + next-item targets
    samples = []
    for u, h in hist.items():
        t = [x for x in h if x[2] < cut_train]
        for end in range(len(t), 1, -L):
            w = t[max(0, end - L - 1):end]
            samples.append((u, w[:-1], [x[0] for x in w[1:]]))
    def pack(ws):
        seq = torch.tensor([left_pad([x[0] for x in w], L) for w in ws])
        ev = torch.tensor([left_pad([x[1] for x in w], L, [0.0, 0.0, 0.0]) for w in ws])
        return seq, ev
    S_seq, S_ev = pack([s[1] for s in samples])
    S_tgt = torch.tensor([left_pad(s[2], L) for s in samples])
    S_prof = torch.tensor([prof[s[0]] for s in samples])
    # validation: online next-event prediction for events in [train cut, valid cut)
    vrng = random.Random(args.seed + 1)
    vev = []
    for u, h in hist.items():
        for k, x in enumerate(h):
            if cut_train <= x[2] < cut_valid and k > 0:
                vev.append((u, h[:k], x[0]))
    vev = vrng.sample(vev, min(4000, len(vev)))
    V_seq, V_ev = pack([v[1] for v in vev])
    V_prof = torch.tensor([prof[v[0]] for v in vev])
    V_tgt = torch.tensor([v[2] for v in vev])
    V_seen = [set(x[0] for x in v[1]) for v in vev]

    def table(train_mode):
        m = mask.clone()
        if train_mode:
            drop = torch.rand(N + 1) < 0.2
            m[drop, 0] = 0.0
        vec, _ = tower(idcol, text, extra, m)
        return torch.cat([torch.zeros(1, d), vec[1:]])

    def evaluate():
        tower.eval(); enc.eval()
        with torch.no_grad():
            T = table(False)
            u, _ = enc(T[V_seq], V_ev, V_prof, last_only=True)
            sc = u[:, 0, :] @ T.T
            sc[:, 0] = -1e9
            for k, seen in enumerate(V_seen):
                sc[k, list(seen)] = -1e9
            tgt = sc.gather(1, V_tgt.unsqueeze(1))
            rank = (sc > tgt).sum(1)
            hit = (rank < 10).float()
        tower.train(); enc.train()
        return hit.mean().item(), (hit / torch.log2(rank.float() + 2)).mean().item()

    best, best_state, log = (-1, -1, 0), None, []
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(len(samples)); total = 0.0
        for a in range(0, len(samples), args.batch):
            idx = perm[a:a + args.batch]
            T = table(True)
            states, _ = enc(T[S_seq[idx]], S_ev[idx], S_prof[idx])
            tgt = S_tgt[idx]
            m = tgt > 0
            logits = states[m] @ T.T
            logits[:, 0] = -1e9
            loss = F.cross_entropy(logits, tgt[m])
            opt.zero_grad(); loss.backward(); opt.step(); total += loss.item()
        if epoch % args.eval_every == 0 or epoch == args.epochs:
            hr, ndcg = evaluate()
            log.append({"epoch": epoch, "loss": total, "valid_hr10": hr, "valid_ndcg10": ndcg})
            print(f"epoch {epoch} loss {total:.1f} valid HR@10 {hr:.4f} NDCG@10 {ndcg:.4f}", flush=True)
            if ndcg > best[1]:
                best = (hr, ndcg, epoch)
                best_state = ({k: v.clone() for k, v in tower.state_dict().items()}, {k: v.clone() for k, v in enc.state_dict().items()})
    tower.load_state_dict(best_state[0]); enc.load_state_dict(best_state[1])
    print(f"best epoch {best[2]}: valid HR@10 {best[0]:.4f} NDCG@10 {best[1]:.4f}")
    name = {"full": "movielens", "no-content": "movielens-nocontent", "no-profile": "movielens-noprofile"}[args.variant]
    training = {"data": "MovieLens 100K (../shared/data/movielens-100k) as engine inputs (apps/personalization/movielens.ts); events before the 70% time cut",
                "command": "python -u models/personalization/train.py " + " ".join("DIR" if i > 0 and sys.argv[i] == args.ml_dir else x for i, x in enumerate(sys.argv) if i > 0),
                "seeds": {"torch": args.seed, "validation_sample": args.seed + 1},
                "metrics": {"variant": args.variant, "best_epoch": best[2], "valid_hr10": best[0], "valid_ndcg10": best[1], "log": log, "cuts": meta["cuts"]},
                "parameters": count_params(tower, enc)}
    hp = f"d {d}, {args.layers} layers, {args.heads} heads, L {L}, dropout {args.dropout}, variant {args.variant}"
    v = args.version
    export_items(tower, os.path.join(OUT, f"{name}-items", v), f"{name}-items", v, vocab, 384, extra_feat, training,
                 f"MovieLens item tower: attention-weighted fusion of ID embedding, title+genres text (text-encoder@1) and genre/year vector; {hp}")
    export_user(enc, os.path.join(OUT, f"{name}-user", v), f"{name}-user", v, pfeat, training, f"MovieLens user encoder: {hp}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", choices=["games", "movielens"])
    ap.add_argument("--games", default=os.path.join(ROOT, "..", "shared", "data", "seqrec", "games.txt"))
    ap.add_argument("--ml-dir", default="/tmp/ml")
    ap.add_argument("--variant", default="full", choices=["full", "no-content", "no-profile"])
    ap.add_argument("--version", default="1")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--length", type=int, default=None)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=None)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--negatives", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--eval-every", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (1 when running two trainings side by side)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.dataset == "games":
        a.length = a.length or 50; a.dropout = 0.5 if a.dropout is None else a.dropout; a.epochs = a.epochs or 60
        games(a)
    else:
        a.length = a.length or 32; a.dropout = 0.2 if a.dropout is None else a.dropout; a.epochs = a.epochs or 30
        movielens(a)


if __name__ == "__main__":
    main()
