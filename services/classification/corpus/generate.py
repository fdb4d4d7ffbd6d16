#!/usr/bin/env python3
"""Writes corpus.tsv, the labelled complaint corpus the text classifier is trained and
evaluated on, from the hand-written phrase banks (phrases_zh.py, phrases_en.py) and the
hand-written examples (hand.tsv). See README.md for the labelling guide.

Deterministic: a fixed seed drives every choice, and the split of a text into train / dev /
test is a hash of the seed and the text, so regenerating never moves a text between splits.
Traditional-Chinese variants are made with the OpenCC command line (Debian's `opencc`), as
Taiwan (s2twp) and Hong Kong (s2hk) write them, besides the hand-written Cantonese clauses.

    python3 services/classification/corpus/generate.py   # rewrites corpus.tsv
"""
import hashlib
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import phrases_en as en  # noqa: E402
import phrases_zh as zh  # noqa: E402

SEED = 20261202
PER_CLASS = 170
LABELS = sorted(zh.CORE)
SPLITS = ((0.70, "train"), (0.85, "dev"), (1.01, "test"))


def waybill(rng):
    kind = rng.randrange(5)
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if kind == 0:
        return "SF" + digits(12)
    if kind == 1:
        return "YT" + digits(13)
    if kind == 2:
        return "JT" + digits(13)
    if kind == 3:
        return "7730" + digits(8)
    return "[phone]"  # what intake's redaction leaves of a long digit run


def fill(text, rng, bank):
    n = rng.randrange(1, 30)
    values = {
        "goods": lambda: rng.choice(bank.GOODS),
        "days": lambda: rng.choice(bank.DAYS),
        "wb": lambda: waybill(rng),
        "amount": lambda: rng.choice(bank.AMOUNTS),
        "time": lambda: rng.choice(bank.TIMES),
        "place": lambda: rng.choice(getattr(bank, "PLACES", ["the lobby"])),
        "city": lambda: rng.choice(bank.CITIES),
        "n": lambda: str(n),
        "n2": lambda: str(n + rng.randrange(1, 9)),
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)](), text)


def typo_zh(text, rng):
    a, b = rng.choice(zh.TYPOS)
    return text.replace(a, b, 1)


def typo_en(text, rng):
    words = text.split(" ")
    i = rng.randrange(len(words))
    w = words[i]
    if len(w) > 4:
        j = rng.randrange(1, len(w) - 2)
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:] if rng.random() < 0.5 else w[:j] + w[j + 1:]
    words[i] = w
    return " ".join(words)


def other_label(label, table, rng):
    keys = [k for k in table if k != label]
    return rng.choice(keys) if keys else None


def core_zh(label, rng):
    core = rng.choice(zh.CORE[label])
    r = rng.random()
    if r < 0.12 and other_label(label, zh.DENY, rng):
        deny = rng.choice(zh.DENY[other_label(label, zh.DENY, rng)])
        turn = rng.choice(["", "只是", "就是", "而是", "是", "但是"])
        return deny + "，" + turn + core
    if r < 0.22 and other_label(label, zh.CONCEDE, rng):
        concede = rng.choice(zh.CONCEDE[other_label(label, zh.CONCEDE, rng)])
        return concede + "，" + rng.choice(["但是", "可是", "不过", "但"]) + core
    return core


def compose_zh(label, rng):
    if rng.random() < 0.15:
        return fill(rng.choice(zh.CORE[label]), rng, zh)
    parts = [rng.choice(zh.OPENERS)]
    if rng.random() < 0.35:
        parts.append(rng.choice(zh.CONTEXT))
    parts.append(core_zh(label, rng))
    if rng.random() < 0.4:
        parts.append(rng.choice(["，", "。", "，而且"]) + rng.choice(zh.DETAIL[label]))
    if rng.random() < 0.12:
        parts.append("。" + rng.choice(zh.CORE[label]))
    if rng.random() < 0.1:
        parts.append("，" + rng.choice(zh.URGENT))
    end = rng.choice(["。", "！", "，", "!!", "？", " "])
    parts.append(end + rng.choice(zh.DEMANDS))
    parts.append(rng.choice(zh.ANGRY) if rng.random() < 0.3 else rng.choice(zh.CALM))
    text = fill("".join(parts), rng, zh)
    return typo_zh(text, rng) if rng.random() < 0.15 else text


def core_en(label, rng):
    core = rng.choice(en.CORE[label])
    r = rng.random()
    if r < 0.12 and other_label(label, en.DENY, rng):
        deny = rng.choice(en.DENY[other_label(label, en.DENY, rng)])
        return deny + ", " + rng.choice(["", "just ", "but ", "it's just that "]) + core
    if r < 0.2 and other_label(label, en.CONCEDE, rng):
        concede = rng.choice(en.CONCEDE[other_label(label, en.CONCEDE, rng)])
        return concede + ", but " + core
    return core


def compose_en(label, rng):
    if rng.random() < 0.15:
        return fill(rng.choice(en.CORE[label]), rng, en)
    parts = [rng.choice(en.OPENERS)]
    if rng.random() < 0.3:
        parts.append(rng.choice(en.CONTEXT))
    core = core_en(label, rng)
    parts.append(core[0].upper() + core[1:] if not parts[-1] else core)
    if rng.random() < 0.35:
        parts.append(rng.choice([", ", ". ", " and "]) + rng.choice(en.DETAIL[label]))
    if rng.random() < 0.1:
        parts.append(", " + rng.choice(en.URGENT))
    parts.append(rng.choice([". ", "! ", "... ", " "]) + rng.choice(en.DEMANDS))
    if rng.random() < 0.3:
        parts.append(" " + rng.choice(en.ANGRY))
    text = fill("".join(parts), rng, en).strip()
    if rng.random() < 0.1:
        text = text.upper() if rng.random() < 0.3 else text.lower()
    return typo_en(text, rng) if rng.random() < 0.2 else text


def compose_mixed(label, rng):
    core = rng.choice(en.MIXED_CORE[label])
    frame = rng.random()
    if frame < 0.4:
        text = rng.choice(zh.OPENERS) + core + "，" + rng.choice(zh.DEMANDS)
    elif frame < 0.7:
        text = core + "，" + rng.choice(zh.DETAIL[label]) + "。" + rng.choice(en.DEMANDS)
    else:
        text = rng.choice(en.OPENERS) + core + " " + rng.choice(zh.ANGRY + en.ANGRY)
    return fill(text, rng, zh)


def compose_hk(label, rng):
    core = rng.choice(zh.HK_CORE[label])
    parts = [rng.choice(["", "", "你好，", "投訴！", "單號{wb}，", "唔該，"]), core]
    if rng.random() < 0.4:
        parts.append("，" + rng.choice(zh.DETAIL[label]))
    parts.append(rng.choice(["。", "！", "，"]) + rng.choice(zh.DEMANDS + ["快啲處理！", "唔該盡快跟進。"]))
    return fill("".join(parts), rng, zh)


def opencc(texts, config):
    """Converts texts (no newlines inside) with the OpenCC command line in one call."""
    out = subprocess.run(["opencc", "-c", config], input="\n".join(texts), text=True,
                         capture_output=True, check=True).stdout
    lines = out.split("\n")
    return lines[:len(texts)]


def generate(rng):
    rows = []
    for label in LABELS:
        for _ in range(PER_CLASS):
            r = rng.random()
            if r < 0.55:
                rows.append([label, "zh-CN", compose_zh(label, rng)])
            elif r < 0.80:
                rows.append([label, "en", compose_en(label, rng)])
            elif r < 0.90:
                rows.append([label, "mixed", compose_mixed(label, rng)])
            else:
                rows.append([label, "zh-HK", compose_hk(label, rng)])
    # a quarter of the simplified texts as Taiwan or Hong Kong customers would write them
    picks = [i for i, row in enumerate(rows) if row[1] == "zh-CN" and rng.random() < 0.3]
    for config, lang, share in (("s2twp.json", "zh-TW", 0), ("s2hk.json", "zh-HK", 1)):
        idx = [i for n, i in enumerate(picks) if n % 2 == share]
        for i, text in zip(idx, opencc([rows[i][2] for i in idx], config)):
            rows[i][1:] = [lang, text]
    return rows


def read_hand(name="hand.tsv"):
    rows = []
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            label, lang, text = line.rstrip("\n").split("\t")
            assert label in LABELS, label
            rows.append([label, lang, text])
    return rows


def split_of(text):
    h = int(hashlib.sha256(f"{SEED}:{text}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return next(name for bound, name in SPLITS if h < bound)


def main():
    rng = random.Random(SEED)
    seen, out = set(), []
    # the probe set first: its texts stay out of train, dev and test whatever else is written
    for source, rows in (("probe", read_hand("probe.tsv")), ("hand", read_hand()),
                         ("gen", generate(rng))):
        for label, lang, text in rows:
            text = re.sub(r"\s+", " ", text).strip()
            if text in seen:
                continue
            seen.add(text)
            out.append(("probe" if source == "probe" else split_of(text), label, lang, source,
                        text))
    path = os.path.join(HERE, "corpus.tsv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("# id\tsplit\tlabel\tlanguage\tsource\ttext  (generated by generate.py; "
                "labelling guide in README.md)\n")
        for n, (split, label, lang, source, text) in enumerate(out, 1):
            f.write(f"c{n:05d}\t{split}\t{label}\t{lang}\t{source}\t{text}\n")
    counts = {}
    for split, label, *_ in out:
        counts[split] = counts.get(split, 0) + 1
    print(f"{len(out)} texts written to {path}: {counts}", file=sys.stderr)


if __name__ == "__main__":
    main()
