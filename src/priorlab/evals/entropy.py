"""Entropy by token type (planning vs execution), strategic n-grams, and semantic entropy of strategies.

Re-tests the two-phase claim (HICRA: Wang et al. 2025, "Emergent Hierarchical Reasoning in LLMs through
Reinforcement Learning", arXiv 2509.03646): RL first lowers the entropy and perplexity of *execution*
tokens, then the diversity of *planning* moves with accuracy.

Token entropy and perplexity by type (`entropy_by_type`). For every generated token t the sampler
records the entropy H_t of the distribution it was drawn from and the log-probability log p_t of the
token drawn (`priorlab.model.sampling.Samples`). Pooled over all tokens of one type across completions:

    mean entropy = (1/N) sum_t H_t             (nats)
    perplexity   = exp(-(1/N) sum_t log p_t)   (PPL_m(Y|x); HICRA, arXiv 2509.03646, tracks it per type)

Pooling is token-weighted, the same as the RL trainer's `entropy/planning` and `entropy/execution`. Both
are of the temperature-scaled distribution (a greedy run is scored at temperature 1, see `sampling`).

Token types. In the world, the grammar labels every character (one character = one token):
`world.labels.token_labels` gives `p` planning, `e` execution, `o` other, `u` unparsed, and `s` for special tokens
(`<eos>`), which have no character. `all` counts every generated token, `<eos>` included. For free text
(Hugging Face models) there is no grammar; HICRA marks as planning the tokens inside an occurrence of a
"strategic gram" (SG) and everything else as execution (`types_from_mask`). SGs come from either

- `extract_strategic_grams`: 3- to 5-grams of *successful* solutions, clustered, the clusters in the top
  20% by cluster document frequency (CDF: the number of distinct solutions holding at least one n-gram of
  the cluster). HICRA embeds n-grams with a sentence encoder and runs KMeans; here, offline and
  deterministic, two n-grams share a cluster iff they have the same *set* of normalised tokens
  (`normalise_token`: lower-case, word-piece markers and surrounding punctuation stripped), so
  "we can use" / "We can use" / "can we use" are one cluster. Choices, each a parameter: an n-gram is a
  candidate only if one of its tokens holds a letter (pure numbers and punctuation are execution);
  clusters found in fewer than `min_doc_freq` (2) solutions are dropped (a one-off phrase is no shared
  strategy); clusters tied with the last one inside the top fraction are all kept.
  `gram_mask` then marks the tokens of a completion inside an occurrence of a kept n-gram.
- `phrase_mask`: a user-given phrase list ("let's try a different approach"), matched case-insensitively
  on the decoded text at word boundaries, so it works whatever the tokenisation.

Semantic entropy of the strategy distribution (HICRA §Metrics: "Shannon entropy of the SG frequency
distribution across sampled solutions", `gram_semantic_entropy`). In the world a strategy is read from
the parsed completion (`world_strategy`) as `format/order/granularity/check`:

- format: `direct`, `nl` or `code`;
- order: `ltr` if the trace starts from the first operand and writes the operations left to right,
  `pos_first` if additions first then subtractions, `other` otherwise (a wrong start, a skipped,
  repeated or invented step). A problem whose two orders coincide (2 operands, or the additions already
  first) can only be `ltr`: both choices write the same path, so they are one strategy. `-` for direct
  answers;
- granularity: `coarse` if an nl step does two operations, else `fine`; `-` for direct answers;
- check: `check` if a `Check:` line is written, else `-`.

H = -sum_j p_j ln p_j (nats) over the empirical distribution of strategies. Completions with no
recognised format have no strategy and are counted apart. `strategy_report` gives the pooled entropy
(all completions of all problems) and the mean over problems of the per-problem entropy (the diversity
of choices given a prompt; it is biased low for few samples per problem, like any plug-in entropy).

    from priorlab.evals.entropy import entropy_by_type
    entropy_by_type(["pe", "es"], [[1.0, 0.5], [0.2, 0.0]], [[-0.1, -0.2], [-0.3, -0.01]])
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from priorlab.world.formats import ordered_pairs, parse

TYPES = {"planning": "p", "execution": "e"}
_MARKERS = ("Ġ", "▁", "Ċ", "##")  # word-piece markers of byte-level BPE, SentencePiece, WordPiece
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)


# --------------------------------------------------------------------------- token entropy by type
def types_from_mask(planning_mask: Sequence[bool]) -> str:
    """HICRA's labelling of free text: tokens inside a strategic gram are planning, all others execution."""
    return "".join("p" if m else "e" for m in planning_mask)


def _stats(ent: np.ndarray, lp: np.ndarray) -> dict:
    n = int(ent.size)
    if n == 0:
        return {"n_tokens": 0, "mean_entropy": None, "mean_nll": None, "perplexity": None}
    nll = float(-lp.mean())
    return {"n_tokens": n, "mean_entropy": float(ent.mean()), "mean_nll": nll, "perplexity": math.exp(nll)}


def entropy_by_type(types: Iterable[str], entropies: Iterable, logprobs: Iterable) -> dict:
    """Pooled mean entropy, mean NLL and perplexity of planning, execution and all generated tokens.

    types: one label string per completion (a code per token, see module doc); entropies, logprobs: one
    float array per completion, aligned with its types. Returns {"planning", "execution", "all"}, each
    {"n_tokens", "mean_entropy", "mean_nll", "perplexity"} (None when there is no such token).
    """
    codes, ents, lps = [], [], []
    for i, (t, e, lp) in enumerate(zip(types, entropies, logprobs, strict=True)):
        e, lp = np.asarray(e, dtype=np.float64).reshape(-1), np.asarray(lp, dtype=np.float64).reshape(-1)
        if not len(t) == e.size == lp.size:
            raise ValueError(f"completion {i}: {len(t)} token types, {e.size} entropies, {lp.size} logprobs")
        codes.append(np.frombuffer(t.encode("ascii"), dtype="S1") if t else np.empty(0, dtype="S1"))
        ents.append(e)
        lps.append(lp)
    code = np.concatenate(codes) if codes else np.empty(0, dtype="S1")
    ent = np.concatenate(ents) if ents else np.empty(0)
    lp = np.concatenate(lps) if lps else np.empty(0)
    out = {name: _stats(ent[code == c.encode()], lp[code == c.encode()]) for name, c in TYPES.items()}
    out["all"] = _stats(ent, lp)
    return out


# ------------------------------------------------------------------- strategic n-grams (free text)
def normalise_token(token: str) -> str:
    """Lower-case, word-piece markers and surrounding whitespace/punctuation stripped ('ĠUse,' -> 'use')."""
    for m in _MARKERS:
        token = token.replace(m, " ")
    return _EDGE_PUNCT.sub("", token.strip().lower())


def ngrams(tokens: Sequence[str], n_min: int = 3, n_max: int = 5) -> set[tuple[str, ...]]:
    """The distinct normalised n-grams (n_min <= n <= n_max) of a token list that hold a letter."""
    if not 1 <= n_min <= n_max:
        raise ValueError(f"need 1 <= n_min <= n_max, got {n_min}, {n_max}")
    norm = [normalise_token(t) for t in tokens]
    out = set()
    for n in range(n_min, n_max + 1):
        for i in range(len(norm) - n + 1):
            gram = tuple(norm[i : i + n])
            if any(any(ch.isalpha() for ch in w) for w in gram):
                out.add(gram)
    return out


def cluster_key(gram: tuple[str, ...]) -> tuple[str, ...]:
    """The cluster of an n-gram: its set of non-empty normalised tokens, sorted."""
    return tuple(sorted({w for w in gram if w}))


def extract_strategic_grams(solutions: Sequence[Sequence[str]], n_min: int = 3, n_max: int = 5,
                            top_frac: float = 0.2, min_doc_freq: int = 2) -> dict:
    """HICRA's strategic grams from the token lists of successful solutions (see module doc).

    Returns {"grams": sorted kept n-grams (tuples of normalised tokens), "clusters": every cluster with
    doc_freq >= min_doc_freq as {"key", "doc_freq", "grams", "kept"} sorted by doc_freq then key,
    "n_solutions", "n_clusters", "n_kept", "cut_doc_freq"} (cut_doc_freq: the smallest kept CDF).
    """
    if not 0 < top_frac <= 1:
        raise ValueError(f"top_frac must be in (0, 1], got {top_frac}")
    members: dict[tuple, set] = {}
    docs: dict[tuple, set] = {}
    for d, toks in enumerate(solutions):
        for g in ngrams(toks, n_min, n_max):
            key = cluster_key(g)
            members.setdefault(key, set()).add(g)
            docs.setdefault(key, set()).add(d)
    clusters: list[dict[str, Any]] = sorted(({"key": list(k), "doc_freq": len(docs[k]), "grams": sorted(members[k]), "kept": False}
                       for k in members if len(docs[k]) >= min_doc_freq),
                      key=lambda c: (-c["doc_freq"], c["key"]))
    cut = None
    if clusters:
        cut = clusters[math.ceil(top_frac * len(clusters)) - 1]["doc_freq"]  # ties with the last one are kept
        for c in clusters:
            c["kept"] = c["doc_freq"] >= cut
    grams = sorted(g for c in clusters if c["kept"] for g in c["grams"])
    return {"grams": grams, "clusters": clusters, "n_solutions": len(solutions), "n_clusters": len(clusters),
            "n_kept": sum(c["kept"] for c in clusters), "cut_doc_freq": cut}


def gram_mask(tokens: Sequence[str], grams: Iterable[Sequence[str]]) -> list[bool]:
    """True on the tokens inside an occurrence of any gram (grams in normalised form, as extracted)."""
    by_len: dict[int, set] = {}
    for g in grams:
        by_len.setdefault(len(g), set()).add(tuple(g))
    norm = [normalise_token(t) for t in tokens]
    mask = [False] * len(tokens)
    for n, gs in by_len.items():
        for i in range(len(norm) - n + 1):
            if tuple(norm[i : i + n]) in gs:
                mask[i : i + n] = [True] * n
    return mask


def phrase_mask(tokens: Sequence[str], phrases: Iterable[str]) -> list[bool]:
    """True on the tokens that overlap an occurrence of a phrase in the decoded text.

    The text is the tokens joined (word-piece markers read as spaces), lower-cased; a phrase matches
    case-insensitively, at word boundaries, with any run of whitespace between its words.
    """
    pieces = list(tokens)
    for m in _MARKERS:
        pieces = [p.replace(m, " ") for p in pieces]
    text = "".join(pieces).lower()
    ends = np.cumsum([len(p) for p in pieces])
    starts = ends - np.array([len(p) for p in pieces], dtype=int)
    mask = np.zeros(len(tokens), dtype=bool)
    for phrase in phrases:
        words = phrase.lower().split()
        if not words:
            continue
        pat = re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)")
        for hit in pat.finditer(text):
            mask |= (starts < hit.end()) & (ends > hit.start())
    return mask.tolist()


# ------------------------------------------------------------------------ semantic entropy
def shannon_entropy(counts: Iterable[float]) -> float:
    """H = -sum p ln p (nats) of the distribution proportional to counts; 0 for a single category.

    Raises ValueError for negative counts or an empty/zero total.
    """
    c = np.asarray(list(counts), dtype=float)
    if c.size == 0 or np.any(c < 0) or c.sum() <= 0:
        raise ValueError(f"entropy needs non-negative counts with a positive total, got {c.tolist()}")
    p = c[c > 0] / c.sum()
    return float(-(p * np.log(p)).sum()) + 0.0  # + 0.0: -0.0 -> 0.0


_NL_STEP = re.compile(r"(-?\d+)((?:[+*-]\d+)+)=(-?\d+)\.")
_CODE_INIT = re.compile(r"^Code: x=(-?\d+);")
_CODE_STEP = re.compile(r" x([+*-])=(\d+) #-?\d+;")
_PAIR = re.compile(r"([+*-])(\d+)")


def world_strategy(problem, text: str) -> str | None:
    """`format/order/granularity/check` of a completion (see module doc); None without a format."""
    parsed = parse(text)
    if parsed.format is None:
        return None
    check = "check" if parsed.has_check else "-"
    if parsed.format == "direct":
        return f"direct/-/-/{check}"
    first = text.split("\n", 1)[0]
    if parsed.format == "nl":
        matches = list(_NL_STEP.finditer(first))
        start = int(matches[0].group(1)) if matches else None
        steps = [_PAIR.findall(m.group(2)) for m in matches]
        written = [(op, int(b)) for s in steps for op, b in s]
        granularity = "coarse" if any(len(s) > 1 for s in steps) else "fine"
    else:
        m0 = _CODE_INIT.search(first)
        start = int(m0.group(1)) if m0 else None
        written = [(op, int(b)) for op, b in _CODE_STEP.findall(first)]
        granularity = "fine"
    if parsed.n_corrections:  # the operations applied: a corrected step's in place of the wrong one's
        written = parsed.pairs
    ltr = ordered_pairs(problem.operands, problem.ops, "ltr")
    pos_first = ordered_pairs(problem.operands, problem.ops, "pos_first")
    order = "other"  # both orders start from the first operand
    if start == problem.operands[0]:
        order = "ltr" if written == ltr else "pos_first" if written == pos_first else "other"
    return f"{parsed.format}/{order}/{granularity}/{check}"


def semantic_entropy(strategies: Iterable[str | None]) -> float | None:
    """Entropy (nats) of the empirical distribution of the non-None strategies; None if there are none."""
    counts = Counter(s for s in strategies if s is not None)
    return shannon_entropy(counts.values()) if counts else None


def strategy_report(problems: Sequence, texts: Sequence[Sequence[str]]) -> dict:
    """Semantic entropy of the world's strategies for K completions of each problem.

    Returns {"pooled": H over all completions, "mean_per_problem": mean over problems (with at least one
    strategy) of H of that problem's completions, "n", "n_no_strategy", "n_strategies" (distinct),
    "shares": {strategy: share among completions with a strategy}}.
    """
    per_problem = [[world_strategy(p, t) for t in ts] for p, ts in zip(problems, texts, strict=True)]
    flat = [s for row in per_problem for s in row]
    counts = Counter(s for s in flat if s is not None)
    n_with = sum(counts.values())
    per = [h for h in (semantic_entropy(row) for row in per_problem) if h is not None]
    return {"pooled": semantic_entropy(flat), "mean_per_problem": float(np.mean(per)) if per else None,
            "n": len(flat), "n_no_strategy": len(flat) - n_with, "n_strategies": len(counts),
            "shares": {s: c / n_with for s, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}}


def gram_semantic_entropy(solutions: Sequence[Sequence[str]], grams: Iterable[Sequence[str]]) -> float | None:
    """HICRA's semantic entropy: H of the frequency distribution of strategic-gram occurrences.

    p_j = count(SG_j) / sum_k count(SG_k), counting every occurrence of each gram in every solution.
    None when no gram occurs.
    """
    gs = {tuple(g) for g in grams}
    lengths = sorted({len(g) for g in gs})
    counts: Counter = Counter()
    for toks in solutions:
        norm = [normalise_token(t) for t in toks]
        for n in lengths:
            for i in range(len(norm) - n + 1):
                g = tuple(norm[i : i + n])
                if g in gs:
                    counts[g] += 1
    return shannon_entropy(counts.values()) if counts else None
