"""contamination: spurious rewards raise accuracy only on problems the prior memorised in pretraining: the
spurious-rewards gains on Qwen2.5-Math come from a contaminated benchmark (Wu et al. 2025, arXiv
2507.10532; Yan et al. 2026, arXiv 2601.11061), not from clipping bias acting on a clean prior (the
opposing view, Chen et al. 2025, arXiv 2512.16912).

The world decides what was memorised (`world.contamination`): the contaminated prior is the main prior
with a share `contamination` (0.5 by default; a map axis) of the held-out pool (100 problems per difficulty
at evaluation seed 0) put into its corpus with their answers (`Q: ...` then `A: ...`), `REPEATS` times
each. The held-out evaluation (eval_problems at the default difficulty, a prefix of the pool) splits into
the contaminated problems and the clean ones, always.

Protocol: the contaminated prior and the clean main prior (every pretraining seed), each with GRPO under
the random reward (p = 0.5; clipping on, eps 0.2, as in spurious-rewards, whose clean-prior random arm
this shares when the knobs agree). Gains are accuracy after − before at T = 1 (greedy reported beside it).
Two clauses, each signed so the claim says ">= δ", and the effect is their minimum (inside every bootstrap
replicate):
- only memorised problems: gain on the contaminated problems − gain on the clean problems, both from the
  contaminated prior;
- not clipping on a clean prior: gain on the contaminated problems from the contaminated prior − gain on
  the same problems from the clean prior (to which they are as new as any).
δ = 0.05 (5 accuracy points), as spurious-rewards' gains are read.

Gates (`PROTOCOL`):
- `memorised_gap` >= 0.1: the manipulation check: the contaminated prior's base accuracy on contaminated
  problems at least 10 points above its accuracy on clean ones (the memorisation took), less the same gap in
  the clean prior, to which both sets are new: the two sets are different problems, and what sets them apart
  before any contamination (2 points at quick's 3x1) is not memorisation;
- `contaminated_room` <= 0.95: that accuracy leaves room for a gain;
- `clip_frac_clean` >= 0.01: the clipping-bias explanation had its chance: the clean prior's random-reward
  runs clip at least 1% of tokens (mean over steps and runs), the spurious-rewards gate (2506.10947 §4);
  otherwise a "not clipping" clause would be read off runs in which clipping never acted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import MAIN_PRIOR, ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.lab.plots import plot_conditions
from priorlab.world.contamination import contaminated_set
from priorlab.world.mixtures import load_mixture

INFO = ClaimInfo(
    id="contamination",
    claim="Spurious (random) rewards raise accuracy only on problems memorised in pretraining, not through "
          "clipping bias on a clean prior.",
    source="Wu et al. 2025, Reasoning or Memorization: Unreliable Results of RL Due to Data Contamination, arXiv "
           "2507.10532; Yan et al. 2026, arXiv 2601.11061; opposing: Chen et al. 2025, arXiv 2512.16912",
    paper="on a clean synthetic benchmark (RandomCalculation) only correct rewards help; random/incorrect rewards "
          "gain on contaminated MATH-500 (numbers unverified)",
)
FRACTION = 0.5  # default share of the held-out pool contaminated
REPEATS = 16  # copies of each contaminated problem in the corpus
REWARD = "random:0.5"
PROTOCOL = Protocol(
    claim="contamination",
    conditions=f"main prior contaminated (contamination x the held-out pool, answers, x{REPEATS}) vs clean, per "
               f"pretraining seed, each with GRPO under the {REWARD} reward; held-out accuracy split into "
               "contaminated and clean problems",
    metric="min(only memorised, not clipping): only memorised = gain(contaminated problems) - gain(clean problems) "
           "from the contaminated prior; not clipping = gain(contaminated problems | contaminated prior) - "
           "gain(same problems | clean prior) (T=1)",
    delta=0.05,
    gates=(
        Gate("memorised_gap", ">=", 0.1, "manipulation check: the contaminated prior's base accuracy on its "
             "contaminated problems is at least 10 points above its accuracy on the clean ones, beyond the same "
             "gap in the clean prior"),
        Gate("contaminated_room", "<=", 0.95, "the contaminated problems' base accuracy leaves room for a gain"),
        Gate("clip_frac_clean", ">=", 0.01, "the opposing explanation (clipping bias, 2512.16912) needs clipping "
             "active: the clean prior's random-reward runs clip at least 1% of tokens"),
    ),
)


def contaminated_prior(lab: Lab) -> str:
    """The contaminated prior's mixture: the main prior with the map's contamination share (or FRACTION) of the
    pool, REPEATS copies."""
    fraction = lab.knobs.get("contamination", FRACTION)
    return f"{MAIN_PRIOR}@contaminate={fraction!r}x{REPEATS}"


def _runs(lab: Lab, seeds) -> dict:
    out = {}
    for arm, mixture in (("contaminated", contaminated_prior(lab)), ("clean", MAIN_PRIOR)):
        priors = lab.priors(mixture)
        out[arm] = (priors, lab.rl_nested(priors, seeds, reward=REWARD))
    return out


def _greedy(lab: Lab, job):
    return lab.snapshot(job, samples=1, temperature=0.0)


def jobs(lab: Lab, seeds) -> list:
    """The contaminated and the clean prior, their random-reward GRPO runs, each evaluated at T=1 and greedy."""
    js = []
    for priors, nested in _runs(lab, seeds).values():
        runs = [p for p in priors] + [j for row in nested for j in row]
        js += [lab.snapshot(j) for j in runs] + [_greedy(lab, j) for j in runs]
    return js


@dataclass
class Data:
    """Per-problem accuracy (mean over samples) on the held-out evaluation: base [A, 1, P] and RL [A, B, P] of
    the contaminated and the clean prior; `hit` [P] marks the contaminated problems; the clean arm's clipping."""

    base_c: np.ndarray
    rl_c: np.ndarray
    base_clean: np.ndarray
    rl_clean: np.ndarray
    hit: np.ndarray
    clip_frac_clean: float


def _clauses(bc, rc, bn, rn, h):
    """(only memorised, not clipping) with `h` the contaminated-problem mask, resampled with the problems
    (NaN, NaN when a replicate drew only contaminated or only clean problems)."""
    hit = h[0, 0] > 0.5
    if hit.all() or not hit.any():
        return float("nan"), float("nan")
    gain_hit = rc[..., hit].mean() - bc[..., hit].mean()
    only = gain_hit - (rc[..., ~hit].mean() - bc[..., ~hit].mean())
    not_clip = gain_hit - (rn[..., hit].mean() - bn[..., hit].mean())
    return only, not_clip


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect min(only memorised, not clipping) with its nested-bootstrap CI, each clause's, every gate.

    The bootstrap resamples problems jointly across the arrays, so `hit` must travel with them: it is passed
    as a fifth array broadcast to every level, and each replicate reads its own contaminated/clean split."""
    hit = np.asarray(d.hit, dtype=bool)
    arrays = {"bc": d.base_c, "rc": d.rl_c, "bn": d.base_clean, "rn": d.rl_clean,
              "h": np.broadcast_to(hit.astype(float), d.base_c.shape).copy()}
    effect = bootstrap(lambda **a: min(_clauses(**a)), arrays, n_boot, delta=protocol.delta)
    clauses = {"only_memorised": bootstrap(lambda **a: _clauses(**a)[0], arrays, n_boot, delta=protocol.delta),
               "not_clipping": bootstrap(lambda **a: _clauses(**a)[1], arrays, n_boot, delta=protocol.delta)}
    def split(a):
        return (float(a[..., hit].mean()) if hit.any() else float("nan"),
                float(a[..., ~hit].mean()) if (~hit).any() else float("nan"))

    acc_hit, acc_clean = split(d.base_c)
    clean_hit, clean_clean = split(d.base_clean)
    gates = protocol.check({"memorised_gap": (acc_hit - acc_clean) - (clean_hit - clean_clean),
                            "contaminated_room": acc_hit, "clip_frac_clean": d.clip_frac_clean})
    return Measurement(effect, gates, {"clauses": clauses, "n_contaminated": int(hit.sum()),
                                       "n_clean": int((~hit).sum()),
                                       "base_accuracy": {"contaminated": acc_hit, "clean": acc_clean},
                                       "base_accuracy_clean_prior": {"contaminated": clean_hit, "clean": clean_clean}})


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """Gains on contaminated and clean held-out problems for both priors, the two clauses, the gates, the gains
    figure; the report entry."""
    runs, nb = _runs(lab, seeds), lab.b.n_boot
    (pc, nc), (pn, nn) = runs["contaminated"], runs["clean"]
    memorised = contaminated_set(load_mixture(contaminated_prior(lab)).to_dict())
    hit = np.array([e in memorised for e in res.snap(lab.snapshot(pc[0]))["problems"]], dtype=bool)

    def table(nested, snap=lab.snapshot):
        return res.table([[snap(j) for j in row] for row in nested])

    def data(snap):
        return Data(table([[p] for p in pc], snap), table(nc, snap), table([[p] for p in pn], snap), table(nn, snap),
                    hit, res.mean_metric(nn, "loss/clip_frac"))

    d = data(lab.snapshot)
    m = measure(d, protocol, nb)
    effect_greedy = measure(data(lambda j: _greedy(lab, j)), protocol, nb).effect
    gains = {}
    for arm, (b, r) in {"contaminated prior": (d.base_c, d.rl_c), "clean prior": (d.base_clean, d.rl_clean)}.items():
        for part, mask in (("contaminated problems", hit), ("clean problems", ~hit)):
            if mask.any():
                gains[f"{arm} | {part}"] = bootstrap(lambda a, b: a.mean() - b.mean(),
                                                     {"a": r[..., mask], "b": b[..., mask]}, nb)
    m.metrics.update(gains=gains, contaminated_prior=contaminated_prior(lab),
                     clip_frac_contaminated=res.mean_metric(nc, "loss/clip_frac"), clip_frac_clean=d.clip_frac_clean)
    plot = plot_conditions(gains, res.plots / "contamination", reference=protocol.delta,
                           ylabel="accuracy gain under a random reward", title="Random-reward gains by memorisation")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]], effect_greedy=effect_greedy)
