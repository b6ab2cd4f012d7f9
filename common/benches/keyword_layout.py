#!/usr/bin/env python3
"""Where a new keyword literal may go in `KEYWORDS` (common/src/redact/prefilter.rs).

A model of the keyword search's buckets, to choose a new literal's piece and place before its
cost is counted on the bench (BENCHMARKS.md, "Eight more literals, placed by swapping"). The
searcher (aho-corasick's Teddy, three-byte masks, 16 buckets) puts a literal whose first three
bytes' low nibbles are new into bucket 15 - (index mod 16) and the others into the bucket of
the first literal with the same nibbles; a position is a candidate for a bucket when each of
the three bytes there has a low and a high nibble some literal of the bucket has at that
place, and each candidate is verified against the bucket's literals. The model counts, over a
text's trigrams (counted once), the candidates of every bucket, weighted by 1 + half the
bucket's literals. It is a guide: `cachegrind` on the bench is the judge.

    cargo bench -p common --bench redact --no-run
    DUMP=1 REDACT_ONLY=0 target/release/deps/redact-* --bench    # writes /tmp/bench_text.log
    git ls-files | xargs cat > /tmp/src_text.log
    python3 common/benches/keyword_layout.py "openssl|penssl|nssl" "login(|gin("

Each argument is one form, its candidate pieces separated by `|`; forms are placed in turn.
For each piece at every swap (the new literal at index j, the literal that was there moved to
the end) and appended at the end, the growth of the model's count over both texts, relative,
summed; the least is kept and printed. Needs numpy.

    python3 common/benches/keyword_layout.py --drop '$y$,$5$' --search 100000 --seed 4 "SALT"

`--drop` takes literals out first (each place filled by whichever of the last literals, or
none, the model counts cheapest); `--search N` then swaps two literals at random N times,
keeping a swap whenever the model's count over both texts falls (relative to the start,
summed), and prints the whole order, one literal a line, to paste into `KEYWORDS`. The same
texts, drops, forms, rounds and seed give the same order.
"""
import random
import re
import sys

import numpy as np

PREFILTER = "common/src/redact/prefilter.rs"
TEXTS = ["/tmp/bench_text.log", "/tmp/src_text.log"]


def keywords(path=PREFILTER):
    src = open(path).read()
    body = src[src.index("pub(crate) const KEYWORDS: &[&str] = &["):]
    body = body[: body.index("];")]
    out = []
    for line in body.split("\n")[1:]:
        m = re.match(r'^"((?:[^"\\]|\\.)*)",$', line.strip())
        if m:
            out.append(m.group(1).encode().decode("unicode_escape").encode("latin1"))
    return out


def trigrams(path):
    t = np.fromfile(path, dtype=np.uint8).astype(np.uint32)
    h = np.bincount((t[:-2] << 16) | (t[1:-1] << 8) | t[2:], minlength=1 << 24)
    u = np.nonzero(h)[0]
    return (u >> 16) & 255, (u >> 8) & 255, u & 255, h[u]


def buckets(lits):
    out, first = [[] for _ in range(16)], {}
    for i, p in enumerate(lits):
        key = tuple(b & 15 for b in p[:3])
        if key not in first:
            first[key] = 15 - (i % 16)
        out[first[key]].append(p)
    return out


class Model:
    def __init__(self, texts):
        self.texts = [trigrams(t) for t in texts]
        self.memo = {}

    def bucket(self, pats, ti):
        key = (ti, tuple(sorted(pats)))
        if key not in self.memo:
            a, b, c, h = self.texts[ti]
            ok = []
            for k in range(3):
                lo, hi = np.zeros(16, bool), np.zeros(16, bool)
                for p in pats:
                    lo[p[k] & 15] = hi[p[k] >> 4] = True
                x = np.arange(256)
                ok.append(lo[x & 15] & hi[x >> 4])
            self.memo[key] = int(h[ok[0][a] & ok[1][b] & ok[2][c]].sum())
        return self.memo[key]

    def cost(self, lits):
        bs = [b for b in buckets(lits) if b]
        return [sum(self.bucket(b, ti) * (1 + 0.5 * len(b)) for b in bs) for ti in range(len(self.texts))]


def drop(model, lits, gone, base0):
    """`lits` without each of `gone`, its place filled as the model counts cheapest."""
    for r in gone:
        i = lits.index(r)
        tries = [lits[:i] + lits[i + 1 :]]
        for k in range(len(lits) - 1, max(i, len(lits) - 40), -1):
            t = list(lits)
            t[i] = t.pop(k)
            tries.append(t)
        lits = min(tries, key=lambda t: relative(model.cost(t), base0))
        print("dropped", r.decode("latin1"), "model", model.cost(lits))
    return lits


def relative(c, base):
    return sum((c[i] - base[i]) / base[i] for i in range(len(c)))


def search(model, lits, rounds, seed, base0):
    """Random swaps of two literals, each kept when the model's count falls."""
    rng = random.Random(seed)
    best = relative(model.cost(lits), base0)
    for _ in range(rounds):
        i, j = rng.randrange(len(lits)), rng.randrange(len(lits))
        if i == j:
            continue
        t = list(lits)
        t[i], t[j] = t[j], t[i]
        score = relative(model.cost(t), base0)
        if score < best:
            lits, best = t, score
    return lits


def main():
    args = sys.argv[1:]
    opt = {}
    while args and args[0] in ("--drop", "--search", "--seed"):
        opt[args[0]] = args[1]
        args = args[2:]
    model = Model(TEXTS)
    lits = keywords()
    base = model.cost(lits)
    base0 = base
    print("literals", len(lits), "model", base)
    if "--drop" in opt:
        lits = drop(model, lits, [d.encode() for d in opt["--drop"].split(",")], base0)
        base = model.cost(lits)
    for form in args:
        best = None
        for piece in form.split("|"):
            e = piece.encode()
            if any(k.startswith(e) or e.startswith(k) for k in lits):
                continue  # a prefix of another literal would change which hits are found
            tries = [(lits + [e], "end", b"")]
            for j, old in enumerate(lits):
                tries.append((lits[:j] + [e] + lits[j + 1 :] + [old], j, old))
            for layout, j, old in tries:
                c = model.cost(layout)
                score = sum((c[i] - base[i]) / base[i] for i in range(len(c)))
                if best is None or score < best[0]:
                    best = (score, piece, j, old, c, layout)
        if best is None:
            print(repr(form), "every piece is a prefix of a literal or has one")
            continue
        _, piece, j, old, c, lits = best
        growth = " ".join("%+.2f%%" % (100 * (c[i] - base[i]) / base[i]) for i in range(len(c)))
        print(f"{piece!r} at {j} (moving {old.decode('latin1')!r} to the end): {growth}")
        base = c
    if "--search" in opt:
        lits = search(model, lits, int(opt["--search"]), int(opt.get("--seed", "1")), base0)
        c = model.cost(lits)
        growth = " ".join("%+.2f%%" % (100 * (c[i] - base0[i]) / base0[i]) for i in range(len(c)))
        print("after the search, against the start:", growth)
        for lit in lits:
            print(lit.decode("latin1"))


if __name__ == "__main__":
    main()
