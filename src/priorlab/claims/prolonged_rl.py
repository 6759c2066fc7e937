"""prolonged-rl: prolonged RL, with KL control and periodic resets of the reference policy, expands the
reasoning boundary: at the largest k its pass@k rises above the base's, where short RL does not (ProRL,
Liu et al. 2025, arXiv 2505.24864; the strongest disagreement with passk-boundary, Yue et al. 2504.13837).

Protocol: passk-boundary's affinity prior at every pretraining seed; the short arm is passk-boundary's runs (GRPO with the
correct reward for `rl_steps`); the prolonged arm runs `PROLONG` times as long with a k3 KL penalty to the
reference (β = `KL_BETA`, or the map's kl_beta) and the reference reset to the current policy, with the
optimizer state, every `rl_steps` steps (`rl.loop.reset_reference`, ProRL §3). Both sampled
`passk_samples` times on `passk_problems` problems of `passk_difficulty`. Two clauses, each signed so that
the claim says ">= δ", the effect their minimum (inside every bootstrap replicate), at passk-boundary's K*
(the largest k at which the base's pass@k is at most 0.95):
- expands: pass@K*(prolonged) − pass@K*(base);
- beyond short RL: pass@K*(prolonged) − pass@K*(short).
δ = 0, as in passk-boundary: the claim holds when both are significantly above 0.

β = 0.01 and the 4x length are this world's choices, fixed before any run (ProRL trained for thousands of
steps with resets every few hundred; its β is not reproduced here).

Gates (`PROTOCOL`):
- `rl_pass1_gain` >= 0.05: the prolonged runs raised pass@1 (RL acted), passk-boundary's threshold;
- `k_max` >= 256: the papers' k range, as in passk-boundary (the pair is judged on equal terms);
- `resets` >= 2: the mechanism ran: at least two reference resets per prolonged run (the fewest over runs,
  counted from the runs' logs);
- `base_room` <= 0.95: the base's pass@K* leaves room.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims import passk_boundary as pb
from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.evals.passk import default_ks
from priorlab.lab.plots import plot_passk

INFO = ClaimInfo(
    id="prolonged-rl",
    claim="Prolonged RL with KL control and periodic reference resets expands the reasoning boundary: its pass@k "
          "at large k exceeds the base's, where short RL does not.",
    source="Liu et al. 2025, ProRL: Prolonged Reinforcement Learning Expands Reasoning Boundaries in Large Language "
           "Models, arXiv 2505.24864",
    paper="pass@k gains over the base at large k on tasks where the base is weak, growing with training length "
          "(numbers unverified)",
)
PROLONG = 4  # the prolonged arm's length, in units of rl_steps (and resets every rl_steps)
KL_BETA = 0.01
RESETS = 2
PROTOCOL = Protocol(
    claim="prolonged-rl",
    conditions=f"affinity prior (per pretraining seed): passk-boundary's GRPO runs (rl_steps) vs {PROLONG}x as long "
               f"with k3 KL (beta {KL_BETA}) and the reference and optimizer reset every rl_steps; n = passk_samples "
               "samples on passk_problems problems of passk_difficulty",
    metric="min(pass@K*(prolonged) - pass@K*(base), pass@K*(prolonged) - pass@K*(short)), K* = passk-boundary's",
    delta=0.0,
    gates=(
        Gate("rl_pass1_gain", ">=", pb.PASS1_GAIN, "the prolonged runs must have acted: pass@1 up at least 5 points"),
        Gate("k_max", ">=", pb.K_PAPER, "the papers' k range: pass@k up to k = 256 (2505.24864; 2504.13837)"),
        Gate("resets", ">=", RESETS, "ProRL's mechanism: at least two reference resets in every prolonged run"),
        Gate("base_room", "<=", pb.ROOM, "the base's pass@K* must leave room"),
    ),
)


def _runs(lab: Lab, seeds):
    priors, short = pb._runs(lab, seeds)
    kl = lab.knobs.get("kl_beta", KL_BETA)
    long = lab.rl_nested(priors, seeds, steps=PROLONG * lab.b.rl_steps, ref_reset_every=lab.b.rl_steps,
                         overrides=(("kl_beta", kl),))
    return priors, short, long


def jobs(lab: Lab, seeds) -> list:
    """passk-boundary's runs plus the prolonged runs (KL and reference resets), each with a pass@k evaluation."""
    priors, short, long = _runs(lab, seeds)
    return pb.jobs(lab, seeds) + [lab.passk(j) for row in long for j in row]


@dataclass
class Data:
    """Correct samples per problem (of n): base [A, 1, P], short and prolonged RL [A, B, P]; the prolonged runs'
    fewest reference resets."""

    base: np.ndarray
    short: np.ndarray
    long: np.ndarray
    n: int
    resets: float


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect min(expands, beyond short) at K* with its nested-bootstrap CI, each clause's, every gate."""
    k = pb.k_star(d.base, d.n)
    arrays = {"b": pb.passk(d.base, d.n, k), "s": pb.passk(d.short, d.n, k), "lg": pb.passk(d.long, d.n, k)}

    def clauses(b, s, lg):
        return lg.mean() - b.mean(), lg.mean() - s.mean()

    effect = bootstrap(lambda **a: min(clauses(**a)), arrays, n_boot, delta=protocol.delta)
    each = {"expands": bootstrap(lambda **a: clauses(**a)[0], arrays, n_boot, delta=protocol.delta),
            "beyond_short": bootstrap(lambda **a: clauses(**a)[1], arrays, n_boot, delta=protocol.delta)}
    gates = protocol.check({"rl_pass1_gain": pb.pass1(d.long, d.n) - pb.pass1(d.base, d.n), "k_max": d.n,
                            "resets": d.resets, "base_room": float(arrays["b"].mean())})
    return Measurement(effect, gates, {
        "k_compared": k, "clauses": each, "k": default_ks(d.n), "passk_base": pb.curve_means(d.base, d.n),
        "passk_short": pb.curve_means(d.short, d.n), "passk_prolonged": pb.curve_means(d.long, d.n),
        "pass1": {"base": pb.pass1(d.base, d.n), "short": pb.pass1(d.short, d.n), "prolonged": pb.pass1(d.long, d.n)}})


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """pass@K* of the base, the short and the prolonged runs, the two clauses, the gates (resets counted from the
    logs), the figure; the report entry."""
    priors, short, long = _runs(lab, seeds)
    base, n = pb.counts(res, [[lab.passk(p)] for p in priors])
    s, _ = pb.counts(res, [[lab.passk(j) for j in row] for row in short])
    lg, _ = pb.counts(res, [[lab.passk(j) for j in row] for row in long])
    resets = min(sum(1 for r in res.metrics(j) if r.get("ref_reset")) for row in long for j in row)
    m = measure(Data(base, s, lg, n, float(resets)), protocol, lab.b.n_boot)
    m.metrics.update(difficulty=lab.b.passk_difficulty, prolonged_steps=PROLONG * lab.b.rl_steps,
                     kl_beta=lab.knobs.get("kl_beta", KL_BETA),
                     kl_mean_prolonged=res.mean_metric(long, "loss/kl"))
    cv = pb.curves({"base": base, f"RL ({lab.b.rl_steps} steps)": s,
                    f"prolonged RL ({PROLONG * lab.b.rl_steps} steps, KL + resets)": lg}, n)
    plot = plot_passk(cv, res.plots / "prolonged-rl", title=f"pass@k: base, short and prolonged RL ({lab.b.passk_difficulty})")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]])
