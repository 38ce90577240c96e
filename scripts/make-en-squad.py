#!/usr/bin/env python3
"""Writes benchmarks/sample-en-squad.json: an English reading-comprehension set in SQuAD v1.1 format
built from the sample's five English documents (Samples/logistics/en/), for measuring chunk sizes on
English text (no English SQuAD file is available on the project machine).

Each document is one article; its paragraphs are the text between blank lines (HTML tags removed,
entities decoded). The questions were written by hand from the documents; each answer is a string
that occurs in exactly the paragraph given. Small (40 questions over ~15,000 characters): a check
on English chunking, not a benchmark of record.

    python3 scripts/make-en-squad.py && wendao eval squad benchmarks/sample-en-squad.json --budget-chars 600
"""

import html
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EN = os.path.join(ROOT, "Samples", "logistics", "en")
OUT = os.path.join(ROOT, "benchmarks", "sample-en-squad.json")

QUESTIONS = {
    "claims-policy-en.md": [
        ("When does SwiftArrow's responsibility for a shipment start?", "the moment it is scanned at pickup"),
        ("How much does declared-value coverage cost?", "0.5% of the declared value, minimum CNY 1"),
        ("What is the maximum declared value per shipment?", "CNY 30,000"),
        ("What is the most an uninsured shipment is compensated?", "no more than 5 times the freight charge"),
        ("In the example, what is the maximum payout for the lost uninsured parcel?", "CNY 60"),
        ("What does Express refund if it is more than 24 hours late?", "50% refund of freight"),
        ("How long do I have to report spoiled cold-chain goods?", "Within 24 hours of signing"),
        ("What prefix does a claim number start with?", "LP"),
        ("How soon is payment made after I accept the assessment?", "within 7 working days"),
        ("How long do I have to ask for a review of the assessment?", "within 15 days"),
    ],
    "international-shipping.html": [
        ("How many countries and regions does SwiftArrow ship to?", "28 countries and regions"),
        ("What handling fee does the Duties Paid service charge?", "2% of the declared value"),
        ("What does the first 0.5 kg to Japan cost?", "CNY 85"),
        ("How long does customs clearance normally take?", "1–3 working days"),
        ("How many copies of the commercial invoice are needed?", "three copies"),
        ("What is the maximum weight per piece for international shipments?", "30 kg per piece"),
        ("What is the insurance limit for international shipments?", "up to CNY 10,000 per shipment"),
        ("Who pays freight both ways if the recipient refuses duties?", "the sender pays freight both ways"),
    ],
    "prohibited-items-en.txt": [
        ("What concentration of alcohol is prohibited?", "70% concentration or higher"),
        ("How many power banks may be sent per shipment?", "a maximum of 2 power banks per shipment"),
        ("How many mAh is roughly 100 Wh?", "27000 mAh"),
        ("How much liquid may one bottle hold?", "no more than 500 ml"),
        ("How many bottles of alcoholic drinks per shipment?", "6 bottles per shipment"),
        ("How much perfume per bottle is allowed?", "50 ml per bottle"),
        ("What is needed to send prescription medicine?", "a prescription or purchase record"),
    ],
    "shipping-guide-en.md": [
        ("How much more does Express cost than Standard?", "1.5 times the Standard rate"),
        ("What is the first-kilogram price for Zone 3?", "| 20 |"),
        ("What is the domestic volumetric weight divisor?", "÷ 6000"),
        ("What is the volumetric weight of a 50 × 40 × 30 cm box?", "10 kg"),
        ("What is the fuel surcharge in Q1 2026?", "8% of the freight charge"),
        ("How much is the oversize surcharge?", "CNY 30 per piece"),
        ("How fast does a courier arrive after booking in urban areas?", "within 2 hours of booking"),
        ("How can foreign nationals register their real name?", "with a passport"),
    ],
    "tracking-and-support-en.md": [
        ("How many digits follow SA in a waybill number?", "12 digits"),
        ("How many waybill numbers can the website track at once?", "up to 20 waybill numbers at once"),
        ("How long is tracking history available?", "180 days after shipping"),
        ("When should I ask for a trace request?", "No update for more than 48 hours"),
        ("When is the English service available?", "weekdays 9:00–18:00"),
        ("How soon is the first response to a complaint?", "within 4 hours"),
        ("How long do lockers keep parcels for free?", "Lockers are free for 18 hours"),
    ],
}


def text_of(path):
    raw = open(path, encoding="utf-8").read()
    if path.endswith(".html"):
        raw = re.sub(r"(?is)<(script|style|nav)[^>]*>.*?</\1>", " ", raw)
        raw = re.sub(r"(?i)<br\s*/?>|</(p|li|tr|h[1-6]|div|table|ul)>", "\n", raw)
        raw = re.sub(r"<[^>]+>", " ", raw)
        raw = html.unescape(raw).replace("\xa0", " ")
        raw = "\n".join(re.sub(r"[ \t]+", " ", l).strip() for l in raw.splitlines())
        raw = re.sub(r"\n{2,}", "\n\n", raw)
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", raw) if p.strip()]
    return paragraphs


def main():
    data = []
    n = 0
    for name, qs in QUESTIONS.items():
        paragraphs = [{"context": p, "qas": []} for p in text_of(os.path.join(EN, name))]
        for q, a in qs:
            hit = [p for p in paragraphs if a in p["context"]]
            assert hit, f"{name}: {a!r} not found"
            n += 1
            hit[0]["qas"].append(
                {"id": f"en{n:03d}", "question": q, "answers": [{"text": a, "answer_start": hit[0]["context"].index(a)}]}
            )
        data.append({"title": name, "paragraphs": paragraphs})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    json.dump({"version": "1.1", "data": data}, open(OUT, "w", encoding="utf-8"), ensure_ascii=False, indent=1)
    print(f"{OUT}: {n} questions")


if __name__ == "__main__":
    main()
