"""The questions the claims bear on, and the pairs of claims that disagree in the literature.

The report groups the claims by question and shows each disagreeing pair side by side, with a sentence
of what the world says about the disagreement. The sentence is read off the two measured verdicts (and
the failed gates of an untestable one), never written by hand for a result:

    disagreements(report["claims"])   # [{"claims": [a, b], "question": ..., "verdicts": [...], "says": ...}]
"""

from __future__ import annotations

QUESTIONS: dict[str, tuple[str, ...]] = {
    "Reward: selection or creation?": ("spurious-rewards", "contamination", "one-shot", "catalyst", "format-collapse",
                                       "composition", "self-correction", "hard-samples"),
    "Coverage: does RL expand what the model can solve?": ("passk-boundary", "prolonged-rl", "cot-passk",
                                                           "negative-reinforcement", "distillation-expands"),
    "Precision and sparsity of the update": ("update-sparsity",),
    "Calibration": ("calibration",),
    "Imitation and planning": ("imitation-then-rl", "two-phase"),
}
OTHER = "Other claims"

# (claim a, claim b, what each says): the disagreements the literature has, each pair's two readings
PAIRS: tuple[tuple[str, str, str], ...] = (
    ("spurious-rewards", "contamination",
     "random rewards help through clipping bias on any prior (Shao et al. 2506.10947; Chen et al. 2512.16912) vs "
     "only on problems memorised in pretraining (Wu et al. 2507.10532)"),
    ("passk-boundary", "prolonged-rl",
     "RL narrows coverage at large k (Yue et al. 2504.13837) vs prolonged RL with KL and resets expands it "
     "(ProRL 2505.24864)"),
    ("passk-boundary", "cot-passk",
     "RL narrows coverage at large k vs, counted by correct reasoning (CoT-pass@k), it expands it "
     "(Wen et al. 2506.14245)"),
)


def groups(claim_ids: list[str]) -> list[tuple[str, list[str]]]:
    """(question, the claims of `claim_ids` under it) in QUESTIONS order; claims of no question last."""
    out, seen = [], set()
    for question, ids in QUESTIONS.items():
        here = [c for c in ids if c in claim_ids]
        if here:
            out.append((question, here))
            seen.update(here)
    rest = [c for c in claim_ids if c not in seen]
    return out + ([(OTHER, rest)] if rest else [])


def _gates(c: dict) -> str:
    failed = [g for g in c.get("gates", []) if not g["passed"]]
    return ", ".join(f"{g['name']} {'n/a' if g['value'] is None else format(g['value'], '.3g')} (needs "
                     f"{g['op']} {g['threshold']:g})" for g in failed)


def says(a: dict, b: dict) -> str:
    """What the world says about a disagreement, from the two entries' verdicts."""
    va, vb = a["verdict"], b["verdict"]
    untestable = [c for c in (a, b) if c["verdict"] == "untestable"]
    if untestable:
        parts = "; ".join(f"{c['id']} is untestable here ({_gates(c)})" for c in untestable)
        return f"The world does not decide this disagreement at this preset: {parts}. A regime map of the untestable " \
               f"claim (priorlab retest --map {untestable[0]['id']}) shows where its mechanism acts."
    inconclusive = [c["id"] for c in (a, b) if c["verdict"] == "inconclusive"]
    if inconclusive:
        return (f"Undecided: {' and '.join(inconclusive)} {'is' if len(inconclusive) == 1 else 'are'} inconclusive "
                "(the interval includes both no effect and an effect of δ); more seeds or problems would tell.")
    if va == vb == "reproduced":
        return (f"Both hold in this world: {a['id']} and {b['id']} are each reproduced with their mechanisms active, "
                "so here the two readings are not exclusive.")
    if va == vb == "not reproduced":
        return "Neither holds in this world: both mechanisms acted and neither effect appeared."
    held, failed = (a, b) if va == "reproduced" else (b, a)
    return (f"In this world {held['id']} holds and {failed['id']} does not (its mechanism acted, the effect was "
            "absent).")


def disagreements(entries: list[dict]) -> list[dict]:
    """Each pair of PAIRS whose two claims are both in `entries`, with their verdicts and what the world says."""
    by_id = {e["id"]: e for e in entries}
    out = []
    for a, b, debate in PAIRS:
        if a in by_id and b in by_id:
            out.append({"claims": [a, b], "debate": debate,
                        "verdicts": [by_id[a]["verdict"], by_id[b]["verdict"]],
                        "effects": [by_id[a]["effect"], by_id[b]["effect"]],
                        "says": says(by_id[a], by_id[b])})
    return out
