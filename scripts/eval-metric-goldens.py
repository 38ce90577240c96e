#!/usr/bin/env python3
"""Reference values of the answer metrics of `wendao eval run` (Tests/WendaoRAGTests/EvalWorkbenchTests.swift).

A re-implementation of the scoring functions of the two official evaluation scripts, written from their
published definitions:
- SQuAD v1.1 (`evaluate-v1.1.py`): normalize_answer (lower, remove string.punctuation, remove the articles
  a/an/the, collapse whitespace), token-bag F1 and exact match, max over the ground truths.
- CMRC 2018 (`cmrc2018_evaluate.py`): mixed_segmentation with rm_punc=True (every CJK ideograph a segment,
  the script's punctuation list skipped), F1 from the longest common substring of the segments, and exact
  match after remove_punctuation; max over the references. The official script splits non-Chinese runs with
  nltk.word_tokenize; the fixtures below contain only runs that NLTK splits at whitespace (digits, plain
  words), so str.split() gives the same segments.
Run: python3 scripts/eval-metric-goldens.py
"""
import re
import string
from collections import Counter

# SQuAD v1.1
def normalize_answer(s):
    def remove_articles(text):
        return re.sub(r'\b(a|an|the)\b', ' ', text)
    def white_space_fix(text):
        return ' '.join(text.split())
    def remove_punc(text):
        exclude = set(string.punctuation)
        return ''.join(ch for ch in text if ch not in exclude)
    return white_space_fix(remove_articles(remove_punc(s.lower())))

def squad_f1(prediction, ground_truth):
    p = normalize_answer(prediction).split()
    g = normalize_answer(ground_truth).split()
    common = Counter(p) & Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(p)
    recall = same / len(g)
    return 2 * precision * recall / (precision + recall)

def squad_em(prediction, ground_truth):
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))

# CMRC 2018
SP_CHAR = ['-', ':', '_', '*', '^', '/', '\\', '~', '`', '+', '=', '，', '。', '：', '？', '！', '“', '”', '；', '’',
           '《', '》', '……', '·', '、', '「', '」', '（', '）', '－', '～', '『', '』']

def mixed_segmentation(in_str, rm_punc=False):
    in_str = str(in_str).lower().strip()
    segs_out = []
    temp_str = ""
    for char in in_str:
        if rm_punc and char in SP_CHAR:
            continue
        if re.search(r'[\u4e00-\u9fa5]', char) or char in SP_CHAR:
            if temp_str != "":
                segs_out.extend(temp_str.split())  # nltk.word_tokenize in the official script
                temp_str = ""
            segs_out.append(char)
        else:
            temp_str += char
    if temp_str != "":
        segs_out.extend(temp_str.split())
    return segs_out

def remove_punctuation(in_str):
    in_str = str(in_str).lower().strip()
    return ''.join(c for c in in_str if c not in SP_CHAR)

def find_lcs(s1, s2):
    m = [[0 for _ in range(len(s2) + 1)] for _ in range(len(s1) + 1)]
    mmax = 0
    for i in range(len(s1)):
        for j in range(len(s2)):
            if s1[i] == s2[j]:
                m[i + 1][j + 1] = m[i][j] + 1
                mmax = max(mmax, m[i + 1][j + 1])
    return mmax

def cmrc_f1(answers, prediction):
    scores = []
    for ans in answers:
        a = mixed_segmentation(ans, rm_punc=True)
        p = mixed_segmentation(prediction, rm_punc=True)
        lcs = find_lcs(a, p)
        if lcs == 0:
            scores.append(0.0)
            continue
        precision = lcs / len(p)
        recall = lcs / len(a)
        scores.append(2 * precision * recall / (precision + recall))
    return max(scores)

def cmrc_em(answers, prediction):
    return float(any(remove_punctuation(a) == remove_punctuation(prediction) for a in answers))

if __name__ == "__main__":
    squad = [
        ("The cat sat on the mat.", "a cat sat on a mat"),
        ("Paris is the capital", "capital of France"),
        ("It costs 12 yuan per kilogram", "12 yuan"),
        ("an apple", "The Apple!"),
    ]
    for p, g in squad:
        print(f"squad f1={squad_f1(p, g)!r} em={squad_em(p, g)!r}  pred={p!r} ref={g!r}")
    cmrc = [
        ("运费是36元", ["36 元"]),
        ("首重收费12元，续重每公斤3元。", ["首重12元"]),
        ("《保价服务说明》", ["保价服务说明"]),
        ("冷链运输温度2-8℃", ["2-8℃", "2至8度"]),
        ("知识库中没有找到答案。", ["18 小时"]),
    ]
    for p, refs in cmrc:
        print(f"cmrc f1={cmrc_f1(refs, p)!r} em={cmrc_em(refs, p)!r}  pred={p!r} refs={refs!r}")
