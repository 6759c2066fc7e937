"""Split an accuracy change into the part from format changes and the part within formats.

The "Spurious Rewards" and "Echo Chamber" claims say RL gains come from *selecting* a pretraining format
(e.g. switching to code traces) rather than from getting better inside a format. With s_f the share of
samples written in format f (`direct`, `nl`, `code`, and `none` for no recognised format) and a_f the
accuracy within it, the accuracy over all samples is acc = sum_f s_f a_f. For a base eval (s, a) and
another (s', a'), e.g. before and after RL:

    delta = acc' - acc = sum_f (s'_f - s_f) * a_f   +   sum_f s'_f * (a'_f - a_f)
                         [format shift, at base        [within format, weighted by
                          accuracies]                   the new shares]

It holds format by format: (s' - s) a + s' (a' - a) = s' a' - s a. "Format shift" is what the change of
shares alone gives at base accuracies; "within format" is the change inside each format. It is one of the
two orders of a two-factor split (the other values the shift at a' and weights the within part by s);
this order values a format that RL moves mass into at its base accuracy.

Formats absent on one side:
- absent from the base (s_f = 0, a_f undefined): a_f := a'_f, so its whole contribution s'_f a'_f is
  format shift (writing a new format is a format change) and its within term is 0;
- absent from the other (s'_f = 0): shift -s_f a_f, within 0 (a'_f is multiplied by 0; a'_f := a_f).

Exactness: everything is computed in rational arithmetic (`fractions.Fraction`; a float converts
exactly), so format_shift + within_format == delta exactly; the floats reported are those rationals
rounded once, and `exact` holds them as "p/q" strings.

    from priorlab.evals.formats import decompose_counts
    decompose_counts({"nl": (2, 1), "code": (2, 2)}, {"nl": (1, 1), "code": (3, 3)})
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from fractions import Fraction

NONE = "none"  # the "format" of a completion with no recognised format


def format_counts(completions: Iterable[Mapping]) -> dict[str, tuple[int, int]]:
    """{format: (samples, correct)} from scored completions ({"format": str | None, "correct": bool})."""
    n: Counter[str] = Counter()
    c: Counter[str] = Counter()
    for comp in completions:
        f = comp["format"] or NONE
        n[f] += 1
        c[f] += bool(comp["correct"])
    return {f: (n[f], c[f]) for f in sorted(n)}


def _frac(x, name: str) -> Fraction:
    try:
        return Fraction(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number, got {x!r}") from None


def _side(shares: Mapping, acc: Mapping, side: str) -> tuple[dict, dict]:
    s = {str(f): _frac(v, f"{side} share of {f}") for f, v in shares.items()}
    if not s or any(v < 0 for v in s.values()) or abs(sum(s.values(), Fraction(0)) - 1) > Fraction(1, 10**9):
        raise ValueError(f"{side} shares must be >= 0 and sum to 1, got {dict(shares)}")
    a = {}
    for f, v in s.items():
        if v > 0:
            if acc.get(f) is None:
                raise ValueError(f"{side} has share {float(v):g} of format {f!r} but no accuracy for it")
            a[f] = _frac(acc[f], f"{side} accuracy of {f}")
            if not 0 <= a[f] <= 1:
                raise ValueError(f"{side} accuracy of {f!r} must be in [0, 1], got {acc[f]}")
    return s, a


def decompose(base_shares: Mapping, base_acc: Mapping, other_shares: Mapping, other_acc: Mapping) -> dict:
    """delta = format_shift + within_format for two evals given as shares and per-format accuracies.

    shares: {format: share} summing to 1; acc: {format: accuracy}, needed where the share is > 0.
    Returns {"base_accuracy", "other_accuracy", "delta", "format_shift", "within_format",
    "per_format": {f: {"share_base", "share_other", "acc_base", "acc_other", "format_shift",
    "within_format"}}, "exact": {"delta", "format_shift", "within_format"} as "p/q"}. An accuracy of a
    format absent on that side is None in per_format (the convention used is in the module doc).
    """
    s, a = _side(base_shares, base_acc, "base")
    s2, a2 = _side(other_shares, other_acc, "other")
    per, shift, within = {}, Fraction(0), Fraction(0)
    for f in sorted(set(s) | set(s2)):
        sf, sf2 = s.get(f, Fraction(0)), s2.get(f, Fraction(0))
        if sf == 0 and sf2 == 0:
            continue
        af = a[f] if sf > 0 else a2[f]  # absent from base: valued at the other's accuracy
        af2 = a2[f] if sf2 > 0 else af  # absent from other: multiplied by s'_f = 0 anyway
        d_shift, d_within = (sf2 - sf) * af, sf2 * (af2 - af)
        shift += d_shift
        within += d_within
        per[f] = {"share_base": float(sf), "share_other": float(sf2),
                  "acc_base": float(a[f]) if sf > 0 else None, "acc_other": float(a2[f]) if sf2 > 0 else None,
                  "format_shift": float(d_shift), "within_format": float(d_within)}
    acc_base = sum((s[f] * a[f] for f in a), Fraction(0))
    acc_other = sum((s2[f] * a2[f] for f in a2), Fraction(0))
    delta = acc_other - acc_base
    assert shift + within == delta  # the identity, exactly, in rationals
    return {"base_accuracy": float(acc_base), "other_accuracy": float(acc_other), "delta": float(delta),
            "format_shift": float(shift), "within_format": float(within), "per_format": per,
            "exact": {"delta": str(delta), "format_shift": str(shift), "within_format": str(within)}}


def decompose_counts(base: Mapping[str, tuple[int, int]], other: Mapping[str, tuple[int, int]]) -> dict:
    """`decompose` from {format: (samples, correct)} counts (see `format_counts`); adds n_base, n_other.

    From counts, acc = sum_f s_f a_f is exactly the pooled accuracy (correct / samples).
    """
    def side(counts, name):
        total = sum(n for n, _ in counts.values())
        if total <= 0:
            raise ValueError(f"{name} has no samples")
        for f, (n, c) in counts.items():
            if n < 0 or not 0 <= c <= n:
                raise ValueError(f"{name} format {f!r}: need 0 <= correct <= samples, got {c} of {n}")
        return ({f: Fraction(n, total) for f, (n, _) in counts.items()},
                {f: Fraction(c, n) for f, (n, c) in counts.items() if n > 0}, total)

    sb, ab, nb = side(base, "base")
    so, ao, no = side(other, "other")
    return {**decompose(sb, ab, so, ao), "n_base": nb, "n_other": no}
