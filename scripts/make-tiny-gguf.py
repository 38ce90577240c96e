#!/usr/bin/env python3
"""Writes the tiny random-weight GGUF models that WendaoLLM's tests run: small enough to commit.

Makes, in Tests/Fixtures/llm/:
  tiny-qwen2.gguf       architecture qwen2 (q/k/v biases, NEOX rope with theta 1e6, GQA 4 heads / 2 kv heads,
                        untied output), byte-level BPE vocab (tokenizer.ggml.model gpt2, pre qwen2) with ChatML
                        special tokens and chat template. Its matrices use every one of Q4_K, Q5_K, Q6_K, Q8_0,
                        Q5_0, Q4_0, Q4_1, F16 and F32 (the table TINY_QWEN2_TYPES says which is where).
  tiny-llama-spm.gguf   architecture llama (MHA, rope theta 1e4, output tied to token_embd), SentencePiece vocab
                        (tokenizer.ggml.model llama) with scores and byte-fallback tokens <0x00>..<0xFF>.
  tiny-dequant.json     for every quantised matrix of both models: type, shape, the dequantised first and last rows
                        and the sum and sum of squares of the whole dequantised matrix, computed with gguf-py's numpy
                        dequantisers (a reference for the block kernels independent of a forward pass).

The weights are random (numpy's PCG64, fixed seeds): quantised blocks are written as raw bytes (random nibbles,
high bits, int8 values and 6-bit K-quant scales/mins) with per-block f16 scales drawn around a base chosen so that
every matrix has a set standard deviation (about 1/sqrt(fan-in)), so activations stay of order 1 and the logits of
order a few units. The vocabularies are learned (a small greedy BPE) from the corpus in this file. Same script, same
gguf/numpy versions => the same bytes (checked by running twice and comparing sha256).

Needs only PyPI gguf and numpy:  pip install gguf numpy
Run from the repository root:    python3 scripts/make-tiny-gguf.py
The llama.cpp goldens for these models (tokens, logits, greedy) come from scripts/make-llm-goldens.py.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter

import numpy as np

import gguf
from gguf import GGMLQuantizationType as Q
from gguf.quants import dequantize

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "llm")

# ---------------------------------------------------------------------------------------------------------------
# Training text for the two vocabularies: English, Chinese, numbers and code, written for this purpose.
CORPUS = """\
The knowledge base answers questions about the documents that you give it. Each answer cites its sources.
When the model does not know the answer, it says so and does not make one up. We'll read the question, then we'll
search the index, then we write the answer. Don't guess; it's better to say that the sources don't answer it.
The weather today is good, and the river is quiet. She walked along the river with her dog in the morning.
In the morning the market opens at 8:30, and in the evening it closes at 21:00. The price is 36 yuan per box.
知识库根据你提供的文档回答问题，每个回答都会注明来源。如果资料里没有答案，就直接说不知道。
今天天气很好，我们去北京看朋友。寄3公斤到北京运费36元，寄5公斤到上海运费45元。
问道是一个知识库问答系统。用户上传文档以后，系统会自动建立索引，然后回答用户的问题。
北京是中国的首都，上海是中国最大的城市。請問台北的天氣怎麼樣？繁體中文和簡體中文都可以。
def answer(question, index):
    hits = index.search(question, top_k=5)
    if not hits:
        return "I don't know."
    return " ".join(hit.text for hit in hits)

func answer(_ question: String, in index: Index) -> String {
    let hits = index.search(question, topK: 5)
    guard !hits.isEmpty else { return "I don't know." }
    return hits.map { $0.text }.joined(separator: " ")
}
for i in range(10):
    print(i, i * i)
1234567890 2024-06-01 3.14159 100% (a + b) * c == d; x += 1; y -= 2; [1, 2, 3] {"key": "value"}
"""

# ---------------------------------------------------------------------------------------------------------------
# Byte-level BPE (GPT-2 style) for tiny-qwen2.


def gpt2_byte_order() -> list[int]:
    """Bytes in the order GPT-2 numbers its 256 byte tokens: the printable ones first, then the rest."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    return printable + [b for b in range(256) if b not in printable]


def gpt2_byte_to_unicode() -> dict[int, str]:
    """GPT-2's byte-to-character map: printable bytes stand for themselves, the others for U+0100 onwards."""
    mapping: dict[int, str] = {}
    extra = 0
    printable = set(gpt2_byte_order()[:188])
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


# A plain-`re` approximation of the Qwen2 pre-tokenizer, only used to cut the training text into words.
WORD_RE = re.compile(r"'(?:s|t|re|ve|m|ll|d)| ?[^\W\d_]+| ?\d| ?[^\s\w]+|\s+(?!\S)|\s+")


def train_bpe(words: Counter, n_merges: int) -> list[tuple[str, str]]:
    """Greedy BPE: merge the most frequent adjacent pair (ties: the smallest pair) n_merges times."""
    seqs = {w: list(w) for w in words}
    merges: list[tuple[str, str]] = []
    for _ in range(n_merges):
        pairs: Counter = Counter()
        for w, n in words.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        best = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        for w in words:
            s = seqs[w]
            i, out = 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == best[0] and s[i + 1] == best[1]:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return merges


def qwen2_vocab(n_merges: int):
    b2u = gpt2_byte_to_unicode()
    words: Counter = Counter()
    for piece in WORD_RE.findall(CORPUS):
        words["".join(b2u[b] for b in piece.encode("utf-8"))] += 1
    merges = train_bpe(words, n_merges)
    tokens = [b2u[b] for b in gpt2_byte_order()]
    seen = set(tokens)
    for a, b in merges:
        if a + b not in seen:
            tokens.append(a + b)
            seen.add(a + b)
    types = [gguf.TokenType.NORMAL] * len(tokens)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokens += specials
    types += [gguf.TokenType.CONTROL] * len(specials)
    return tokens, types, [f"{a} {b}" for a, b in merges], {s: tokens.index(s) for s in specials}


# ---------------------------------------------------------------------------------------------------------------
# SentencePiece-style vocab (pieces with scores, ▁ for spaces, byte fallback) for tiny-llama-spm.

SPACE = "\u2581"


def spm_vocab(n_merges: int):
    words: Counter = Counter()
    for line in CORPUS.split("\n"):
        for w in line.split(" "):
            if w:
                words[SPACE + w] += 1
    chars: Counter = Counter()
    for w, n in words.items():
        for c in w:
            chars[c] += n
    # Characters seen once stay out of the vocab, so that they go through byte fallback.
    alphabet = sorted((c for c, n in chars.items() if n >= 2), key=lambda c: (-chars[c], c))
    kept = Counter({w: n for w, n in words.items() if all(c in alphabet for c in w)})
    merges = train_bpe(kept, n_merges)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    scores = [0.0, 0.0, 0.0] + [0.0] * 256
    seen = set(tokens)
    # Merged pieces score by merge order (earlier = higher), single characters below every merge.
    for i, (a, b) in enumerate(merges):
        if a + b not in seen:
            tokens.append(a + b)
            types.append(gguf.TokenType.NORMAL)
            scores.append(-float(i))
            seen.add(a + b)
    for i, c in enumerate(alphabet):
        if c not in seen:
            tokens.append(c)
            types.append(gguf.TokenType.NORMAL)
            scores.append(-1000.0 - i)
            seen.add(c)
    return tokens, types, scores


# ---------------------------------------------------------------------------------------------------------------
# Random blocks of each ggml type, as raw bytes.

F16 = np.float16


def f16_bytes(x: np.ndarray) -> np.ndarray:
    return x.astype(F16).reshape(-1, 1).view(np.uint8).reshape(-1, 2)


def random_blocks(rng: np.random.Generator, qtype: Q, n: int, scale: float) -> np.ndarray:
    """n random blocks of qtype, (n, type_size) uint8, whose f16 scales are `scale` times a per-block factor."""
    u8 = lambda k: rng.integers(0, 256, size=(n, k), dtype=np.uint8)  # noqa: E731
    jitter = lambda: rng.uniform(0.6, 1.4, size=n)  # noqa: E731
    if qtype == Q.Q8_0:
        qs = rng.integers(-127, 128, size=(n, 32), dtype=np.int8).view(np.uint8)
        return np.concatenate([f16_bytes(scale * jitter()), qs], axis=1)
    if qtype == Q.Q4_0:
        return np.concatenate([f16_bytes(scale * jitter()), u8(16)], axis=1)
    if qtype == Q.Q4_1:
        d = scale * jitter()
        m = -7.5 * d * rng.uniform(0.7, 1.3, size=n)  # the block's minimum, about centring the 16 levels
        return np.concatenate([f16_bytes(d), f16_bytes(m), u8(16)], axis=1)
    if qtype == Q.Q5_0:
        return np.concatenate([f16_bytes(scale * jitter()), u8(4), u8(16)], axis=1)
    if qtype in (Q.Q4_K, Q.Q5_K):
        # 12 random bytes are 8 random 6-bit scales and 8 random 6-bit mins. dmin is set so that a sub-block's
        # mean (d*sc*mid - dmin*m) is zero on average over sc, m uniform in 0..63.
        mid = 7.5 if qtype == Q.Q4_K else 15.5
        d = scale * jitter()
        dmin = mid * d * rng.uniform(0.7, 1.3, size=n)
        parts = [f16_bytes(d), f16_bytes(dmin), u8(12)]
        parts += [u8(128)] if qtype == Q.Q4_K else [u8(32), u8(128)]
        return np.concatenate(parts, axis=1)
    if qtype == Q.Q6_K:
        sc = rng.integers(-32, 32, size=(n, 16), dtype=np.int8).view(np.uint8)
        return np.concatenate([u8(128), u8(64), sc, f16_bytes(scale * jitter())], axis=1)
    raise ValueError(qtype)


UNIT_SCALE = {Q.Q8_0: 1 / 73.3, Q.Q4_0: 1 / 4.6, Q.Q4_1: 1 / 4.6, Q.Q5_0: 1 / 9.2,
              Q.Q4_K: 1 / 250.0, Q.Q5_K: 1 / 500.0, Q.Q6_K: 1 / 340.0}


def check_scales_normal(blocks: np.ndarray, qtype: Q) -> None:
    """Every f16 scale (d, dmin, Q4_1's m) must be a normal f16 number: no zero, subnormal or infinite scale."""
    offsets = {Q.Q8_0: [0], Q.Q4_0: [0], Q.Q5_0: [0], Q.Q4_1: [0, 2], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}
    for off in offsets[qtype]:
        v = np.abs(blocks[:, off:off + 2].copy().view(F16).astype(np.float32))
        assert (v >= np.finfo(F16).tiny).all() and np.isfinite(v).all(), (qtype, off, v.min(), v.max())


def random_matrix(rng: np.random.Generator, qtype: Q, rows: int, cols: int, std: float):
    """Returns (array for GGUFWriter.add_tensor, raw_dtype, dequantised float32 matrix)."""
    if qtype in (Q.F32, Q.F16):
        w = rng.normal(0.0, std, size=(rows, cols)).astype(np.float32 if qtype == Q.F32 else F16)
        return w, None, w.astype(np.float32)
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    assert cols % block == 0, (qtype, cols)
    n = rows * cols // block
    # Draw the blocks with a rough scale, then rescale every f16 scale field so that the matrix's standard
    # deviation is `std` (dequantisation is linear in the scale fields, so one factor does it).
    state = rng.bit_generator.state
    blocks = random_blocks(rng, qtype, n, UNIT_SCALE[qtype])
    got = float(dequantize(blocks.reshape(rows, -1), qtype).std())
    rng.bit_generator.state = state
    blocks = random_blocks(rng, qtype, n, UNIT_SCALE[qtype] * std / got)
    raw = np.ascontiguousarray(blocks.reshape(rows, cols // block * size))
    check_scales_normal(raw.reshape(n, size), qtype)
    return raw, qtype, dequantize(raw, qtype)


# ---------------------------------------------------------------------------------------------------------------
# The models.

# (tensor name, ggml type) per layer of tiny-qwen2; every listed type appears at least once.
TINY_QWEN2_TYPES = [
    {"attn_q": Q.Q5_K, "attn_k": Q.F16, "attn_v": Q.Q5_0, "attn_output": Q.Q4_0,
     "ffn_gate": Q.Q4_1, "ffn_up": Q.Q8_0, "ffn_down": Q.Q6_K},
    {"attn_q": Q.Q4_0, "attn_k": Q.Q4_1, "attn_v": Q.F32, "attn_output": Q.Q8_0,
     "ffn_gate": Q.Q5_K, "ffn_up": Q.Q5_0, "ffn_down": Q.Q4_K},
]

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def norm_weight(rng, n):
    return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)


def f32_list(xs) -> list:
    """float32 values as JSON numbers with 9 significant digits (enough to give back the same float32)."""
    return [float(f"{float(x):.9g}") for x in xs]


def add_matrix(w: gguf.GGUFWriter, rng, dequant_log: list, name: str, qtype: Q, rows: int, cols: int, std: float):
    arr, raw_dtype, deq = random_matrix(rng, qtype, rows, cols, std)
    w.add_tensor(name, arr, raw_dtype=raw_dtype)
    if raw_dtype is not None:
        d64 = deq.astype(np.float64)
        dequant_log.append({
            "tensor": name, "type": qtype.name, "ne": [cols, rows],
            "row_first_head": f32_list(deq[0][:64]), "row_last_tail": f32_list(deq[-1][-64:]),
            "sum": float(d64.sum()), "sum_squares": float((d64 * d64).sum()), "std": float(f"{d64.std():.6g}"),
        })


def make_tiny_qwen2(path: str, dequant_log: list) -> dict:
    rng = np.random.default_rng(20240601)
    n_embd, n_layer, n_head, n_head_kv, n_ff = 256, 2, 4, 2, 512
    head_dim = n_embd // n_head
    tokens, types, merges, special = qwen2_vocab(n_merges=240)
    n_vocab = len(tokens)

    w = gguf.GGUFWriter(path, "qwen2")
    w.add_name("Wendao tiny-qwen2 (random weights, for tests)")
    w.add_description("Random weights and a toy vocabulary made by Wendao's scripts/make-tiny-gguf.py; not a language model.")
    w.add_context_length(512)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_rope_freq_base(1_000_000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(special["<|endoftext|>"])
    w.add_eos_token_id(special["<|im_end|>"])
    w.add_pad_token_id(special["<|endoftext|>"])
    w.add_add_bos_token(False)
    w.add_chat_template(CHATML_TEMPLATE)

    add_matrix(w, rng, dequant_log, "token_embd.weight", Q.Q4_K, n_vocab, n_embd, 1.0)
    for i, layer in enumerate(TINY_QWEN2_TYPES):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", norm_weight(rng, n_embd))
        add_matrix(w, rng, dequant_log, p + "attn_q.weight", layer["attn_q"], n_head * head_dim, n_embd, n_embd ** -0.5)
        add_matrix(w, rng, dequant_log, p + "attn_k.weight", layer["attn_k"], n_head_kv * head_dim, n_embd, n_embd ** -0.5)
        add_matrix(w, rng, dequant_log, p + "attn_v.weight", layer["attn_v"], n_head_kv * head_dim, n_embd, n_embd ** -0.5)
        w.add_tensor(p + "attn_q.bias", (0.3 * rng.standard_normal(n_head * head_dim)).astype(np.float32))
        w.add_tensor(p + "attn_k.bias", (0.3 * rng.standard_normal(n_head_kv * head_dim)).astype(np.float32))
        w.add_tensor(p + "attn_v.bias", (0.1 * rng.standard_normal(n_head_kv * head_dim)).astype(np.float32))
        add_matrix(w, rng, dequant_log, p + "attn_output.weight", layer["attn_output"], n_embd, n_head * head_dim, n_embd ** -0.5)
        w.add_tensor(p + "ffn_norm.weight", norm_weight(rng, n_embd))
        add_matrix(w, rng, dequant_log, p + "ffn_gate.weight", layer["ffn_gate"], n_ff, n_embd, n_embd ** -0.5)
        add_matrix(w, rng, dequant_log, p + "ffn_up.weight", layer["ffn_up"], n_ff, n_embd, n_embd ** -0.5)
        add_matrix(w, rng, dequant_log, p + "ffn_down.weight", layer["ffn_down"], n_embd, n_ff, n_ff ** -0.5)
    w.add_tensor("output_norm.weight", norm_weight(rng, n_embd))
    add_matrix(w, rng, dequant_log, "output.weight", Q.Q6_K, n_vocab, n_embd, 0.25)
    write(w)
    return {"file": os.path.basename(path), "n_vocab": n_vocab, "n_merges": len(merges), "special": special}


def make_tiny_llama_spm(path: str, dequant_log: list) -> dict:
    rng = np.random.default_rng(20240602)
    n_embd, n_layer, n_head, n_ff = 256, 2, 4, 256
    tokens, types, scores = spm_vocab(n_merges=200)
    n_vocab = len(tokens)

    w = gguf.GGUFWriter(path, "llama")
    w.add_name("Wendao tiny-llama-spm (random weights, for tests)")
    w.add_description("Random weights and a toy SentencePiece vocabulary made by Wendao's scripts/make-tiny-gguf.py; not a language model.")
    w.add_context_length(512)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_rope_freq_base(10_000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(n_vocab)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)

    # No output.weight: the output projection is tied to token_embd (as in SmolLM2).
    add_matrix(w, rng, dequant_log, "token_embd.weight", Q.Q8_0, n_vocab, n_embd, 0.25)
    for i in range(n_layer):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", norm_weight(rng, n_embd))
        for name, qtype in (("attn_q", Q.Q4_0), ("attn_k", Q.Q4_0), ("attn_v", Q.Q8_0), ("attn_output", Q.Q8_0)):
            add_matrix(w, rng, dequant_log, p + name + ".weight", qtype, n_embd, n_embd, n_embd ** -0.5)
        w.add_tensor(p + "ffn_norm.weight", norm_weight(rng, n_embd))
        add_matrix(w, rng, dequant_log, p + "ffn_gate.weight", Q.Q4_1, n_ff, n_embd, n_embd ** -0.5)
        add_matrix(w, rng, dequant_log, p + "ffn_up.weight", Q.Q4_1, n_ff, n_embd, n_embd ** -0.5)
        add_matrix(w, rng, dequant_log, p + "ffn_down.weight", Q.Q4_1, n_embd, n_ff, n_ff ** -0.5)
    w.add_tensor("output_norm.weight", norm_weight(rng, n_embd))
    write(w)
    return {"file": os.path.basename(path), "n_vocab": n_vocab}


def write(w: gguf.GGUFWriter) -> None:
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    log_q: list = []
    log_l: list = []
    info_q = make_tiny_qwen2(os.path.join(OUT, "tiny-qwen2.gguf"), log_q)
    info_l = make_tiny_llama_spm(os.path.join(OUT, "tiny-llama-spm.gguf"), log_l)
    doc = {
        "about": "Dequantised rows of the quantised matrices of the tiny models, from gguf-py's numpy dequantisers "
                 "(scripts/make-tiny-gguf.py). ne = [ne0 (row length), ne1 (rows)]; row_first_head is the first 64 "
                 "values of row 0, row_last_tail the last 64 values of row ne1-1; sum and sum_squares are over the "
                 "whole matrix, in float64; std is numpy's (population) standard deviation.",
        "gguf_py_version": getattr(gguf, "__version__", None) or _dist_version("gguf"),
        "numpy_version": np.__version__,
        "models": {"tiny-qwen2.gguf": log_q, "tiny-llama-spm.gguf": log_l},
    }
    with open(os.path.join(OUT, "tiny-dequant.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for info in (info_q, info_l):
        size = os.path.getsize(os.path.join(OUT, info["file"]))
        print(f"{info['file']}: {size} bytes, vocab {info['n_vocab']}")
    for name, log in (("tiny-qwen2", log_q), ("tiny-llama-spm", log_l)):
        for e in log:
            print(f"  {name} {e['tensor']:28s} {e['type']:5s} std {e['std']:.4f}")
    return 0


def _dist_version(name: str):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
