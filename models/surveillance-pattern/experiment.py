"""Cross-family experiment for the pattern-feature detector (issue #18).

Reads dumps from bench/pattern-features-dump.ts (PREFIX.rows.csv, PREFIX.units.csv), trains
on one family's training seeds, picks the threshold on that family's validation seed, and
judges on the other family's held-out seeds at the unit level of ../shared/contracts/README.md
(participant x symbol x minute; a unit is predicted when any of its events scores over the
threshold). Prints a table; nothing here is tuned on the judged family.

  python experiment.py DUMP_DIR
"""
import sys, numpy as np, pyarrow.csv as pc
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline

D = sys.argv[1] if __name__ == "__main__" else None
def load_dump(path, binary=True):
    """a pattern-features dump: features, labels (binary: manipulation or not; else the class index), units, positive units' patterns, feature names"""
    t = pc.read_csv(f"{path}.rows.csv", convert_options=pc.ConvertOptions(column_types={"unit": "string", "archetype": "string"}))
    names = t.column_names[3:]
    X = np.stack([t.column(n).to_numpy().astype(np.float32) for n in names], 1)
    y = t.column("label").to_numpy().astype(np.int64)
    units = np.array(t.column("unit").to_pylist())
    u = pc.read_csv(f"{path}.units.csv", convert_options=pc.ConvertOptions(column_types={"unit": "string", "pattern": "string"}))
    pos = {}
    for a, p in zip(u.column("unit").to_pylist(), u.column("pattern").to_pylist()):
        if p: pos[a] = p
        else: pos.setdefault(a, "")
    return X, ((y > 0).astype(np.int64) if binary else y), units, pos, names


def load(prefix):
    return load_dump(f"{D}/{prefix}")

GATE = None  # set per run: boolean per event (an evidence flag), or None

def unit_scores(s, units, X=None):
    """a unit's score: its highest event score (gated: only events whose flow holds some pattern's evidence)"""
    best = {}
    ok = np.ones(len(s), bool) if (GATE is None or X is None) else X[:, :6].max(1) > 0
    for a, v, g in zip(units, s, ok):
        v = v if g else 0.0
        if v > best.get(a, -1): best[a] = v
    return best

def judge(best, pos, thr):
    tp = fp = fn = tn = 0; per = {}
    for a, v in best.items():
        p = pos.get(a, ""); pred = v >= thr
        if p:
            per.setdefault(p, [0, 0]); per[p][1] += 1
            if pred: tp += 1; per[p][0] += 1
            else: fn += 1
        elif pred: fp += 1
        else: tn += 1
    prec = tp / max(1, tp + fp); rec = tp / max(1, tp + fn); f1 = 2 * prec * rec / max(1e-12, prec + rec)
    return dict(f1=f1, prec=prec, rec=rec, fpr=fp / max(1, fp + tn), acc=(tp + tn) / max(1, tp + tn + fp + fn), per={k: f"{a}/{b}" for k, (a, b) in sorted(per.items())})

def best_thr(best, pos):
    vals = sorted(set(np.round(list(best.values()), 4)))
    cands = np.quantile(vals, np.linspace(0.5, 1, 200)) if len(vals) > 200 else vals
    return max(cands, key=lambda t: judge(best, pos, t)["f1"])

def models():
    return {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1, class_weight="balanced")),
        "gbm": HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15, l2_regularization=1.0, class_weight="balanced"),
    }

if __name__ == "__main__":
    SUBSETS = {"all": slice(0, 24), "evidence": slice(0, 11), "relative": slice(11, 24)}
    sets = {f: {s: load(f"{f}-{s}") for s in ("train", "val", "test")} for f in ("market", "auction")}
    clean = {c: load(c) for c in ("amzn", "goog")}
    for gate in (None, True):
      globals()["GATE"] = gate
      for sub, cols in SUBSETS.items():
        for train, judged in (("market", "auction"), ("auction", "market")):
            Xt, yt, _, _, names = sets[train]["train"]
            for name, m in models().items():
                if name == "logistic" and sub != "all": continue
                m.fit(Xt[:, cols], yt)
                Xv, _, uv, pv, _ = sets[train]["val"]
                bv = unit_scores(m.predict_proba(Xv[:, cols])[:, 1], uv, Xv); thr = best_thr(bv, pv); jv = judge(bv, pv, thr)
                Xj, _, uj, pj, _ = sets[judged]["test"]
                bj = unit_scores(m.predict_proba(Xj[:, cols])[:, 1], uj, Xj); jj = judge(bj, pj, thr)
                oracle = judge(bj, pj, best_thr(bj, pj))
                cl = []
                for c, (Xc, _, uc, pcl, _) in clean.items():
                    bc = unit_scores(m.predict_proba(Xc[:, cols])[:, 1], uc, Xc); cl.append(f"{c} {sum(v >= thr for v in bc.values()) / len(bc):.2%}")
                print(f"gate={bool(gate)} {sub:8s} {name:8s} {train}->{judged}: val F1 {jv['f1']:.3f} thr {thr:.3f} | F1 {jj['f1']:.3f} P {jj['prec']:.3f} R {jj['rec']:.3f} FPR {jj['fpr']:.2%} acc {jj['acc']:.2%} | oracle-thr F1 {oracle['f1']:.3f} | clean {' '.join(cl)}", flush=True)
                print(f"    per pattern (units): {jj['per']}", flush=True)

