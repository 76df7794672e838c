"""Untrained incremental detectors at several window lengths, for timing only (issue #17:
per-event cost against L). Same architecture and widths as surveillance-detector-incremental
(models/tools/seqmodel.py, IncrementalSequenceModel); the weights are the seeded initial ones,
which do not change what a graph costs to run. Writes OUT/L<n>/{model,prefill,step}.onnx and
checks each step graph against its prefill (check_incremental) before timing is trusted.

    .venv-train/bin/python models/tools/export-length-curve.py /tmp/sluice-length 8 32 128
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from seqmodel import IncrementalSequenceModel, check_incremental, export_incremental  # noqa: E402

out = sys.argv[1]
for L in [int(a) for a in sys.argv[2:]]:
    torch.manual_seed(L)
    m = IncrementalSequenceModel(length=L, width=16)
    d = os.path.join(out, f"L{L}")
    os.makedirs(d, exist_ok=True)
    m.eval()
    torch.onnx.export(m, (torch.zeros(2, L, 16),), os.path.join(d, "model.onnx"), input_names=["events"], output_names=["score", "logits"],
                      dynamic_axes={"events": {0: "batch"}, "score": {0: "batch"}, "logits": {0: "batch"}}, opset_version=14)
    inc = export_incremental(m, d)
    worst = check_incremental(m, torch.randn(2, L + 6, 16))
    print(f"L={L}: state {inc['stateWidth']} floats per event; step vs prefill {worst:.2e}", flush=True)
