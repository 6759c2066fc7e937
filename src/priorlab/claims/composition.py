"""composition: RL creates a skill rather than selecting one: from a prior that learnt f and g but never
saw f(g(x)), RL on composed problems solves composed problems the prior's best of many samples does not
(Yuan et al. 2025, arXiv 2509.25123); from a prior that lacks one atomic skill, it does not (2512.01970).

The world's two skills (`world.tasks`): f, the addition/subtraction chain (`NxD`), and g, multiplication by
a one-digit constant (`m1x1`); a composed problem `mNxD` (e.g. `7*4+5` at m2x1) is g's product as the first
term of f's chain. The `skills` prior pretrains both atoms and no composed problem; the control
`skills-chain` is the same prior without g's documents.

Protocol: each prior (every pretraining seed) and its GRPO runs with the correct reward on composed
problems (`compose_difficulty`, m2x1 by default; a `difficulty` map axis with an mNxD value replaces it),
each sampled `passk_samples` times on `passk_problems` held-out composed problems. "Beyond what the prior's
best sample reaches" is read at the largest k evaluated, K = passk_samples: a problem the base solves in
none of K samples and the RL model does solve is coverage RL created. Two clauses, each signed so the
claim says ">= δ", and the effect is their minimum (inside every bootstrap replicate):
- creation: pass@K(RL | skills) − pass@K(base | skills);
- the atoms are needed: that gain minus the same gain from the control prior (RL from a prior without g
  creates less).
δ = 0.05 (5 points of coverage at K). pass@1 before and after, and both pass@k curves, are reported.

Gates (`PROTOCOL`):
- `atoms_learnt` >= 0.5: the skills prior's base accuracy (T=1) on each atom, m1x1 and the 2-term chain,
  on problems of the pretraining split (the atoms as taught: one-digit products are facts, and the held-out
  tenth of them cannot be inferred), the smaller of the two (min over prior seeds): "learnt f and g" is
  the premise of the claim;
- `composed_in_prior` <= 0: the skills prior's corpus holds no composed problem (its share of documents,
  from the mixture), so whatever RL reaches was never imitated;
- `control_lacks_g` <= 0.2: the control's base accuracy on m1x1 (the same problems; max over seeds): the manipulation
  check that the control really lacks g (a one-digit product guessed from the chain alone is rare);
- `groups_all_equal` <= 0.9: at the first RL step from the skills prior at most 90% of the groups have
  all-equal rewards (mean over runs), so GRPO had a gradient to follow: with none, RL cannot have acted;
- `base_room` <= 0.95: the base's pass@K on composed problems leaves room to be exceeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.passk_boundary import counts, curve_means, curves, pass1, passk
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.evals.passk import default_ks
from priorlab.lab.plots import plot_passk
from priorlab.world.mixtures import load_mixture
from priorlab.world.tasks import Difficulty

INFO = ClaimInfo(
    id="composition",
    claim="RL on composed problems creates the composed skill from separately learnt atomic skills (coverage "
          "beyond the base model's pass@k), and only when the prior has both atoms.",
    source="Yuan et al. 2025, From f(x) and g(x) to f(g(x)): LLMs Learn New Skills in RL by Composing Old "
           "Ones, arXiv 2509.25123; control: arXiv 2512.01970 (RL fails when an atomic skill is missing)",
    paper="RL on level-2 string-function compositions lifts level-2 accuracy from near 0 and generalises to "
          "higher levels; pass@k of the RL model exceeds the base's at large k (numbers unverified)",
)
PRIOR, CONTROL = "skills", "skills-chain"
ATOMS = ("m1x1", "2x1")  # g alone, and f's shortest chain
ATOMS_LEARNT = 0.5
CONTROL_G = 0.2
PROTOCOL = Protocol(
    claim="composition",
    conditions=f"{PRIOR} prior (both atoms, no composition) and {CONTROL} (no multiplication), per pretraining "
               "seed, each with GRPO (correct reward) on composed problems (compose_difficulty); n = passk_samples "
               "samples on passk_problems held-out composed problems",
    metric="min(creation, atoms needed) at K = n: creation = pass@K(RL|skills) - pass@K(base|skills); atoms "
           "needed = creation - (pass@K(RL|control) - pass@K(base|control))",
    delta=0.05,
    gates=(
        Gate("atoms_learnt", ">=", ATOMS_LEARNT, "the premise: the skills prior learnt f and g, base accuracy "
             "(T=1) at least 0.5 on m1x1 and on 2x1 (the smaller, worst prior seed)"),
        Gate("composed_in_prior", "<=", 0.0, "the skills prior never saw a composed problem (share of its "
             "documents), so a composed solution cannot have been imitated"),
        Gate("control_lacks_g", "<=", CONTROL_G, "manipulation check: the control prior's base accuracy on m1x1 "
             "is at most 0.2 (it never learnt multiplication)"),
        Gate("groups_all_equal", "<=", 0.9, "GRPO needs mixed groups: at the first RL step from the skills prior "
             "at most 90% of the groups have all-equal rewards (mean over runs)"),
        Gate("base_room", "<=", 0.95, "the base's pass@K on composed problems must leave room to be exceeded"),
    ),
)


def difficulty(lab: Lab) -> str:
    """The composed problems RL trains on and is evaluated on: a `difficulty` map value of the form mNxD
    (N >= 2), else the budget's compose_difficulty."""
    knob = lab.knobs.get("difficulty")
    if knob and Difficulty.from_key(knob).composed:
        return knob
    return lab.b.compose_difficulty


def _runs(lab: Lab, seeds):
    cd = difficulty(lab)
    out = {}
    for name in (PRIOR, CONTROL):
        priors = lab.priors(name)
        out[name] = (priors, lab.rl_nested(priors, seeds, difficulty=cd))
    return out


def _passk(lab: Lab, job):
    return lab.snapshot(job, difficulty(lab), samples=lab.b.passk_samples, problems=lab.b.passk_problems)


def _atom(lab: Lab, prior, key: str):
    # the atoms as taught: problems of the pretraining split (the held-out tenth of the 80 one-digit products
    # are facts no model can infer, so a test-split accuracy would not say whether g was learnt)
    return lab.snapshot(prior, key, split="train")


def jobs(lab: Lab, seeds) -> list:
    """Both priors, their GRPO runs on composed problems, the pass@k evaluations and the atom evaluations
    (pretraining split)."""
    js = []
    for name, (priors, nested) in _runs(lab, seeds).items():
        js += [_passk(lab, p) for p in priors] + [_passk(lab, j) for row in nested for j in row]
        keys = ATOMS if name == PRIOR else ATOMS[:1]
        js += [_atom(lab, p, key) for p in priors for key in keys]
    return js


@dataclass
class Data:
    """Correct samples per composed problem (of n): base [A, 1, P] and RL [A, B, P] for the skills prior and
    the control; and the gates' measured values."""

    base: np.ndarray
    rl: np.ndarray
    base_control: np.ndarray
    rl_control: np.ndarray
    n: int
    atoms_learnt: float
    composed_in_prior: float
    control_lacks_g: float
    groups_all_equal: float


def _clauses(b, r, bc, rc):
    creation = r.mean() - b.mean()
    return creation, creation - (rc.mean() - bc.mean())


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect min(creation, atoms needed) at K = n with its nested-bootstrap CI, each clause's CI, every gate."""
    k = d.n
    arrays = {"b": passk(d.base, d.n, k), "r": passk(d.rl, d.n, k), "bc": passk(d.base_control, d.n, k),
              "rc": passk(d.rl_control, d.n, k)}
    effect = bootstrap(lambda **a: min(_clauses(**a)), arrays, n_boot, delta=protocol.delta)
    clauses = {"creation": bootstrap(lambda **a: _clauses(**a)[0], arrays, n_boot, delta=protocol.delta),
               "atoms_needed": bootstrap(lambda **a: _clauses(**a)[1], arrays, n_boot, delta=protocol.delta)}
    gates = protocol.check({"atoms_learnt": d.atoms_learnt, "composed_in_prior": d.composed_in_prior,
                            "control_lacks_g": d.control_lacks_g, "groups_all_equal": d.groups_all_equal,
                            "base_room": float(arrays["b"].mean())})
    return Measurement(effect, gates, {
        "k_compared": k, "clauses": clauses, "k": default_ks(d.n),
        "passk_base": curve_means(d.base, d.n), "passk_rl": curve_means(d.rl, d.n),
        "passk_base_control": curve_means(d.base_control, d.n), "passk_rl_control": curve_means(d.rl_control, d.n),
        "pass1": {"base": pass1(d.base, d.n), "rl": pass1(d.rl, d.n), "base_control": pass1(d.base_control, d.n),
                  "rl_control": pass1(d.rl_control, d.n)}})


def composed_share(mixture: str) -> float:
    """Share of a mixture's difficulty weight on composed problems (mNxD with N >= 2)."""
    mix = load_mixture(mixture)
    total = sum(mix.difficulty.values())
    composed = sum(w for key, w in mix.difficulty.items() if Difficulty.from_key(key).composed)
    return composed / total


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """pass@K on composed problems for both priors before and after RL, the atoms' accuracies, the gates, the
    pass@k figure; the report entry."""
    runs = _runs(lab, seeds)
    (priors, nested), (cpriors, cnested) = runs[PRIOR], runs[CONTROL]
    base, n = counts(res, [[_passk(lab, p)] for p in priors])
    rl, _ = counts(res, [[_passk(lab, j) for j in row] for row in nested])
    base_c, _ = counts(res, [[_passk(lab, p)] for p in cpriors])
    rl_c, _ = counts(res, [[_passk(lab, j) for j in row] for row in cnested])
    atom_acc = {key: [float(res.snap(_atom(lab, p, key))["correct"].mean()) for p in priors] for key in ATOMS}
    control_g = [float(res.snap(_atom(lab, p, ATOMS[0]))["correct"].mean()) for p in cpriors]
    data = Data(base, rl, base_c, rl_c, n, atoms_learnt=min(min(v) for v in atom_acc.values()),
                composed_in_prior=composed_share(priors[0].config.mixture), control_lacks_g=max(control_g),
                groups_all_equal=res.mean_metric(nested, "adv/frac_groups_all_equal", first_step=True))
    m = measure(data, protocol, lab.b.n_boot)
    m.metrics.update(difficulty=difficulty(lab), atom_accuracy=atom_acc, control_g_accuracy=control_g)
    cv = curves({"base (skills)": base, "RL (skills)": rl, "base (control: no g)": base_c,
                 "RL (control: no g)": rl_c}, n)
    plot = plot_passk(cv, res.plots / "composition", title=f"composed problems ({difficulty(lab)}): pass@k")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]])
