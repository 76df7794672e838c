"""surveillance-pattern: a small network over pattern features (issue #18).

Input: one row per event of apps/surveillance/pattern-features.ts's PatternFeatureNames
(each pattern's defining act and its size, and how the key's recent flow departs from its own
and its symbol's usual). Output: score = 1 - P(normal) and logits over normal + the seven
patterns, like surveillance-detector, so the topology's threshold and alerts treat it the same.

The dumps come from bench/pattern-features-dump.ts (FAMILY SEEDS PREFIX). Standardization is
inside the graph (the training set's mean and deviation as constants), so the engine feeds raw
features.

  python models/surveillance-pattern/train.py --train DIR/market-train --val DIR/market-val \
      --judge DIR/auction-test --version 1 [--name N] [--epochs 6]

--judge prints unit-level figures on another family's dump at the threshold chosen on --val,
for the record only (nothing is chosen on it).
"""
import argparse, json, os, sys, time
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
from experiment import best_thr, judge, load_dump, unit_scores  # noqa: E402
from recmodel import _manifest, write_manifest  # noqa: E402

CLASSES = ["normal", "spoofing", "layering", "wash_trade", "quote_stuffing", "momentum_ignition", "pinging", "marking_the_close"]


def load(prefix):
    return load_dump(prefix, binary=False)


def describe(prefixes):
    """what each dump holds, from its meta.json: generator family and seeds"""
    out = []
    for p in prefixes.split(","):
        try:
            m = json.load(open(f"{p}.meta.json"))
            out.append(f"{m['family']} seeds {','.join(map(str, m['seeds']))} ({m['events']} events, {m['episodes']} episodes)")
        except FileNotFoundError:
            out.append(os.path.basename(p))
    return "; ".join(out)


class PatternNet(nn.Module):
    def __init__(self, mean, std, width, classes, hidden=64):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))
        self.net = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Dropout(0.1), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, classes))

    def forward(self, x):
        logits = self.net((x - self.mean) / self.std)
        return 1 - torch.softmax(logits, -1)[:, 0], logits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True, help="dump prefix(es), comma-separated")
    ap.add_argument("--val", required=True)
    ap.add_argument("--judge", default="")
    ap.add_argument("--version", type=int, default=1)
    ap.add_argument("--name", default="surveillance-pattern")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--arch", choices=["gbm", "mlp"], default="gbm")
    a = ap.parse_args()
    torch.manual_seed(a.seed); np.random.seed(a.seed)
    parts = [load(p) for p in a.train.split(",")]
    names = parts[0][4]
    Xtr = np.concatenate([p[0] for p in parts]); ytr = np.concatenate([p[1] for p in parts])
    Xva, yva, uva, pva, _ = load(a.val)
    counts = np.bincount(ytr, minlength=len(CLASSES)).astype(np.float32)
    out = os.path.join(os.environ.get("SLUICE_MODELS_OUT") or os.path.join(os.path.dirname(__file__), ".."), a.name, str(a.version))
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "model.onnx")
    if a.arch == "gbm":
        predict, thr, jv, desc, params = train_gbm(a, Xtr, ytr, counts, Xva, uva, pva, path, len(names))
    else:
        predict, thr, jv, desc, params = train_mlp(a, Xtr, ytr, counts, Xva, uva, pva, path, len(names))
    if a.judge:
        Xj, _, uj, pj, _ = load(a.judge)
        bj = unit_scores(predict(Xj), uj); jj = judge(bj, pj, thr)
        print(f"judged {a.judge} at the validation threshold: F1 {jj['f1']:.3f} P {jj['prec']:.3f} R {jj['rec']:.3f} FPR {jj['fpr']:.2%} (oracle F1 {judge(bj, pj, best_thr(bj, pj))['f1']:.3f}) {jj['per']}", flush=True)
    # the exported graph must score as the trained model does
    import onnxruntime as ort
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = sess.run(["score"], {"features": Xva[:4096]})[0]
    diff = float(np.abs(got - predict(Xva[:4096])).max())
    print(f"onnx score vs the trained model on 4096 validation rows: max |diff| {diff:.2e}")
    if diff > 1e-4: sys.exit("train: the exported graph does not score as the trained model does")
    m = _manifest(path, a.name, a.version,
                  desc + " over one event's pattern features (apps/surveillance/pattern-features.ts): each pattern's defining act and its size, and the key's recent flow against its own and its symbol's usual; score = 1 - P(normal), class = manipulation pattern.",
                  [{"name": "features", "dtype": "float32", "shape": [-1, len(names)]}],
                  [{"name": "score", "dtype": "float32", "shape": [-1]}, {"name": "logits", "dtype": "float32", "shape": [-1, len(CLASSES)]}],
                  {"features": list(names)}, {
                      "data": f"every event of bench/pattern-features-dump.ts dumps: train {describe(a.train)}; validation {describe(a.val)}; per class {counts.astype(int).tolist()}",
                      "command": " ".join(["python", "models/surveillance-pattern/train.py"] + sys.argv[1:]),
                      "seeds": {"numpy_torch": a.seed},
                      "metrics": {"val_unit_f1": round(jv["f1"], 4), "val_threshold": round(float(thr), 4), "onnx_max_abs_diff": diff},
                      "parameters": params,
                  })
    m["classes"] = CLASSES
    write_manifest(out, m)
    print(json.dumps(m["training"]["metrics"]))


def train_gbm(a, Xtr, ytr, counts, Xva, uva, pva, path, width):
    """Gradient-boosted trees: they saturate outside the training range where a network extrapolates
    (on the auction family's flow, a network trained there scored unit F1 0.180 on the market family against the trees' 0.545)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from skl2onnx import to_onnx
    import onnx
    from onnx import helper, TensorProto
    w = np.sqrt(counts.sum() / np.maximum(counts, 1)); w /= w.mean()
    t0 = time.time()
    gbm = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, l2_regularization=1.0, random_state=a.seed)
    gbm.fit(Xtr, ytr, sample_weight=w[ytr])
    predict = lambda X: (1 - gbm.predict_proba(X)[:, 0]).astype(np.float32)
    bv = unit_scores(predict(Xva), uva); thr = best_thr(bv, pva); jv = judge(bv, pva, thr)
    print(f"gbm: {gbm.n_iter_} rounds, val unit F1 {jv['f1']:.3f} at {thr:.3f} ({time.time() - t0:.0f}s)", flush=True)
    # trees → ONNX (skl2onnx: TreeEnsembleClassifier of ai.onnx.ml, which onnxruntime-node runs), then
    # the detector's outputs: score = 1 - P(normal), logits = log P (the score operator softmaxes them back)
    # skl2onnx 1.20 passes numpy booleans (missing-value directions) where onnx wants ints with
    # scikit-learn 1.9; the values are the same as ints
    _make_attribute = helper.make_attribute
    def make_attribute(key, value, *args, **kw):
        if isinstance(value, (list, tuple)) and any(isinstance(v, (bool, np.bool_)) for v in value):
            value = [int(v) for v in value]
        return _make_attribute(key, value, *args, **kw)
    helper.make_attribute = make_attribute
    m = to_onnx(gbm, Xtr[:2], options={id(gbm): {"zipmap": False}}, target_opset={"": 14, "ai.onnx.ml": 3})
    g = m.graph
    probs = [o.name for o in g.output if "prob" in o.name][0]
    given = g.input[0].name
    g.input[0].name = "features"
    for n in g.node:
        n.input[:] = ["features" if x == given else x for x in n.input]
    g.node.extend([
        helper.make_node("Slice", [probs, "zero", "one", "one"], ["p_normal"]),
        helper.make_node("Squeeze", ["p_normal", "one"], ["p_normal_1d"]),
        helper.make_node("Sub", ["one_f", "p_normal_1d"], ["score"]),
        helper.make_node("Max", [probs, "tiny"], ["p_safe"]),
        helper.make_node("Log", ["p_safe"], ["logits"]),
    ])
    g.initializer.extend([helper.make_tensor("zero", TensorProto.INT64, [1], [0]), helper.make_tensor("one", TensorProto.INT64, [1], [1]),
                          helper.make_tensor("one_f", TensorProto.FLOAT, [], [1.0]), helper.make_tensor("tiny", TensorProto.FLOAT, [], [1e-9])])
    del g.output[:]
    g.output.extend([helper.make_tensor_value_info("score", TensorProto.FLOAT, [None]), helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, len(CLASSES)])])
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return predict, thr, jv, f"Gradient-boosted trees ({gbm.n_iter_} rounds x {len(CLASSES)} classes, 15 leaves)", int(sum(len(p.nodes) for ps in gbm._predictors for p in ps))


def train_mlp(a, Xtr, ytr, counts, Xva, uva, pva, path, width):
    torch.manual_seed(a.seed)
    mean = Xtr.mean(0); std = Xtr.std(0) + 1e-3
    model = PatternNet(mean, std, Xtr.shape[1], len(CLASSES))
    weight = torch.tensor(np.sqrt(counts.sum() / np.maximum(counts, 1)), dtype=torch.float32); weight /= weight.mean()
    X, Y = torch.tensor(Xtr), torch.tensor(ytr)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-3)
    steps = a.epochs * ((len(Y) + 1023) // 1024)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    t0 = time.time()
    for epoch in range(a.epochs):
        model.train()
        perm = torch.randperm(len(Y))
        for i in range(0, len(perm), 1024):
            idx = perm[i:i + 1024]
            _, logits = model(X[idx])
            loss = F.cross_entropy(logits, Y[idx], weight=weight)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        model.eval()
        with torch.no_grad():
            sv = model(torch.tensor(Xva))[0].numpy()
        bv = unit_scores(sv, uva); thr = best_thr(bv, pva); jv = judge(bv, pva, thr)
        print(f"epoch {epoch + 1}: loss {loss.item():.4f} val unit F1 {jv['f1']:.3f} at {thr:.3f} ({time.time() - t0:.0f}s)", flush=True)
    model.eval()
    torch.onnx.export(model, (torch.zeros(2, width),), path, input_names=["features"], output_names=["score", "logits"],
                      dynamic_axes={"features": {0: "batch"}, "score": {0: "batch"}, "logits": {0: "batch"}}, opset_version=14)
    def predict(X):
        with torch.no_grad():
            return model(torch.tensor(X))[0].numpy()
    return predict, thr, jv, "MLP (2 x 64, GELU)", sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    main()
