"""What every claim module shares: budgets (presets), job constructors, results, statistics, report entries.

A claim module defines `INFO` (the claim in one sentence, its source, the paper's headline number),
`PROTOCOL` (`claims.protocol.Protocol`: conditions, metric, δ and the gates its mechanism needs, fixed
before any run), `jobs(lab, seeds) -> list[Job]` (the conditions it compares), a pure
`measure(...) -> Measurement` (effect with its interval, every gate checked) that unit tests drive with
synthetic arrays, and `analyze(lab, res, seeds, protocol) -> dict`, which loads the arrays, calls
`measure` and draws the figures; `entry` turns that into the claim's report entry under the one verdict
rule (`claims.protocol.judge`).

Conditions are built through `Lab`, so the same condition requested by two claims (e.g. GRPO with the
correct reward on the default prior, seed 0) is the same job and is computed once. Per-problem results
come as [A, B, P] arrays (pretraining seeds x RL seeds x held-out problems) for `bootstrap`, the nested
bootstrap of `common.stats`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from priorlab.claims import knobs as knobs_
from priorlab.claims.protocol import Measurement, Protocol, judge
from priorlab.common import runfiles, stats
from priorlab.evals.snapshot import SnapshotConfig, load_snapshot
from priorlab.lab.sweep import Job, job_dir
from priorlab.pretrain import PretrainConfig
from priorlab.rl.loop import RLConfig
from priorlab.sft.loop import SFTConfig
from priorlab.sft.srl import SRLConfig
from priorlab.world.tasks import RL_DIFFICULTY

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "untestable")


@dataclass(frozen=True)
class ClaimInfo:
    id: str
    claim: str  # one sentence
    source: str  # paper and arXiv id
    paper: str  # the paper's headline number, for comparison
    # claims without a PROTOCOL yet describe it here (the rule is then `decide`'s, with no gates)
    protocol: str = ""  # conditions compared in the controlled world
    metric: str = ""  # what `effect` measures
    rule: str = ""  # the verdict rule with its thresholds
    delta: float = 0.0  # minimum effect that counts as the claim holding


@dataclass(frozen=True)
class Budget:
    """A preset: every budget a retest uses. `quick` is the README's main job."""

    name: str
    seeds: int
    size: str  # model size of the priors
    small_size: str  # the second size (format-collapse)
    tokens: int  # pretraining budget of the default prior
    pt_batch: int
    pt_seq: int
    rl_steps: int
    prompts: int
    group: int
    eval_problems: int
    eval_samples: int
    passk_problems: int
    passk_samples: int
    passk_difficulty: str
    hard_difficulty: str
    easy_difficulty: str
    sft_steps: int
    srl_steps: int
    n_boot: int
    catalyst_fractions: tuple = (6, 1)  # pretraining budgets of the catalyst claim, as fractions 1/f of `tokens`
    max_new_tokens: int = 96
    prior_seeds: int = 1  # pretraining seeds per prior (the outer level of the nested bootstrap)
    compose_difficulty: str = "m2x1"  # composed problems f(g(x)) of the composition claim (world.tasks)


PRESETS = {
    "smoke": Budget("smoke", seeds=2, size="xs", small_size="xs", tokens=16 * 64 * 120, pt_batch=16, pt_seq=64,
                    rl_steps=3, prompts=4, group=4, eval_problems=12, eval_samples=2, passk_problems=8,
                    passk_samples=8, passk_difficulty="5x1", hard_difficulty="6x2", easy_difficulty="2x1",
                    sft_steps=4, srl_steps=2, n_boot=200, max_new_tokens=64),
    "quick": Budget("quick", seeds=2, size="s", small_size="xs", tokens=6_000_000, pt_batch=32, pt_seq=128,
                    rl_steps=30, prompts=16, group=8, eval_problems=100, eval_samples=8, passk_problems=60,
                    passk_samples=128, passk_difficulty="6x1", hard_difficulty="6x2", easy_difficulty="2x1",
                    sft_steps=3000, srl_steps=30, n_boot=1000, prior_seeds=2),
    "full": Budget("full", seeds=5, size="s", small_size="xs", tokens=8_000_000, pt_batch=32, pt_seq=128,
                   rl_steps=150, prompts=16, group=8, eval_problems=300, eval_samples=16, passk_problems=200,
                   passk_samples=256, passk_difficulty="6x1", hard_difficulty="6x2", easy_difficulty="2x1",
                   sft_steps=3000, srl_steps=100, n_boot=2000, catalyst_fractions=(8, 3, 1), prior_seeds=3),
}
MAIN_PRIOR = "code-prior-conf"  # code-prior plus calibrated confidence tags: serves every claim that needs one


class Lab:
    """Builds the jobs of a preset; identical conditions give identical (deduplicated) jobs.

    Each method constructs its stage's config dataclass directly, so a wrong or renamed field raises
    TypeError when the jobs are built, before anything runs. `knobs` (`claims.knobs`: e.g. {"lr": 1e-5,
    "prior_share": 0.2}) move every job to one point of a regime map; without knobs the jobs are the preset's.
    """

    def __init__(self, budget: Budget, knobs: Mapping | None = None):
        self.knobs = knobs_.freeze(knobs)
        self.b = knobs_.budget(budget, self.knobs)
        self.difficulty = self.knobs.get("difficulty", RL_DIFFICULTY)  # where a claim takes the default

    def prior(self, mixture: str = MAIN_PRIOR, size: str | None = None, tokens: int | None = None, seed: int = 0) -> Job:
        """The pretraining job of `mixture` (the map's prior_share applied) at the preset's size and token budget
        unless given, pretraining seed `seed`."""
        b = self.b
        size, tokens = size or b.size, tokens or b.tokens
        mixture = knobs_.mixture(mixture, self.knobs)
        cfg = PretrainConfig(mixture=mixture, size=size, tokens=tokens, seed=seed, batch_size=b.pt_batch,
                             seq_len=b.pt_seq, eval_every=10_000,
                             ckpt_every=max(50, tokens // (b.pt_batch * b.pt_seq) // 4))
        return Job("pretrain", cfg, label=f"{mixture}/{size}/{tokens}" + (f"/pt{seed}" if seed else ""))

    def priors(self, mixture: str = MAIN_PRIOR, size: str | None = None, tokens: int | None = None) -> list[Job]:
        """The prior at each of the preset's pretraining seeds (`prior_seeds`)."""
        return [self.prior(mixture, size, tokens, seed=s) for s in range(self.b.prior_seeds)]

    def rl_nested(self, priors: list[Job], seeds, **kw) -> list[list[Job]]:
        """`rl` runs [prior seed][RL seed] from each prior; `kw` as for `rl`."""
        return [[self.rl(p, s, **kw) for s in seeds] for p in priors]

    def rl(self, init: Job, seed: int, reward: str = "correct", algo: str = "grpo", difficulty: str | None = None,
           steps: int | None = None, tag: str = "", **kw) -> Job:
        """GRPO-family run from `init`; `kw` are further RLConfig fields (e.g. train_problems, overrides)."""
        b = self.b
        steps, difficulty = steps or b.rl_steps, difficulty or self.difficulty
        fields, knobbed = knobs_.rl_kwargs(self.knobs, kw)
        cfg = RLConfig(reward=reward, algo=algo, steps=steps, seed=seed, prompts_per_step=b.prompts,
                       group_size=b.group, difficulty=difficulty, eval_every=max(1, steps // 2),
                       ckpt_every=max(1, steps // 2), eval_problems=min(50, b.eval_problems), eval_samples=2,
                       max_new_tokens=b.max_new_tokens, label_samples=8 if b.name != "smoke" else 2, **fields)
        extra = "".join(f"/{k}={v}" for k, v in kw.items()) + knobbed
        if difficulty != RL_DIFFICULTY:
            extra += f"/{difficulty}"
        return Job("rl", cfg, deps=(init,), label=f"{tag or init.label}/{reward}/{algo}{extra}/s{seed}")

    def snapshot(self, model: Job, difficulty: str | None = None, *, samples: int | None = None,
                 problems: int | None = None, checkpoint: int | None = None, temperature: float = 1.0,
                 split: str = "test") -> Job:
        """The evaluation job of `model`: samples per problem on held-out problems of `difficulty` (the preset's
        defaults; a checkpoint, a temperature or the pretraining split when given)."""
        b = self.b
        difficulty = difficulty or self.difficulty
        cfg = SnapshotConfig(difficulty=difficulty, samples=samples or b.eval_samples,
                             problems=problems or b.eval_problems, temperature=temperature, seed=0,
                             max_new_tokens=max(b.max_new_tokens, 128), checkpoint=checkpoint, split=split)
        return Job("eval", cfg, deps=(model,), label=f"{model.label}@{difficulty}" + ("/train" if split != "test" else ""))

    def passk(self, model: Job) -> Job:
        """The pass@k evaluation of `model`: passk_samples samples on passk_problems problems of passk_difficulty."""
        return self.snapshot(model, self.b.passk_difficulty, samples=self.b.passk_samples,
                             problems=self.b.passk_problems)

    def sft(self, init: Job, seed: int, teacher_format: str, difficulty: str = "2x1,3x1,4x1,5x1,6x1") -> Job:
        # every difficulty of the pretraining mixture, so the new format is learnt for long problems too. lr 1e-3
        # and quick's 3000 steps: the nl-prior student's code accuracy on 6x1 reached 0.68 (0.05 after 300 steps
        # at 3e-4), above distillation-expands' gate (0.5); see that module
        """SFT of `init` on gold traces of `teacher_format` (lr 1e-3, the preset's sft_steps), over every
        difficulty of the pretraining mixture."""
        cfg = SFTConfig(teacher_format=teacher_format, steps=self.b.sft_steps, seed=seed, difficulty=difficulty,
                        lr=1e-3)
        return Job("sft", cfg, deps=(init,), label=f"{init.label}/sft-{teacher_format}/s{seed}")

    def sft_at(self, init: Job, seed: int, lr: float, steps: int, teacher_format: str = "code",
               difficulty: str | None = None) -> Job:
        """SFT with a given learning rate and number of updates (update-sparsity's control, matched to an RL
        run's optimizer updates); evaluated and checkpointed once, at the end."""
        difficulty = difficulty or self.difficulty
        cfg = SFTConfig(teacher_format=teacher_format, steps=steps, seed=seed, difficulty=difficulty, lr=lr,
                        eval_every=steps, ckpt_every=steps, eval_problems=min(50, self.b.eval_problems),
                        eval_samples=2, max_new_tokens=self.b.max_new_tokens)
        return Job("sft", cfg, deps=(init,), label=f"{init.label}/sft-{teacher_format}/lr={lr:g}/n={steps}/s{seed}")

    def srl(self, init: Job, seed: int, expert_format: str = "code", difficulty: str | None = None) -> Job:
        """Supervised RL of `init` toward expert steps in `expert_format` (the preset's srl_steps, prompts and
        group size, lr 1e-4)."""
        difficulty = difficulty or self.difficulty
        cfg = SRLConfig(expert_format=expert_format, steps=self.b.srl_steps, seed=seed, difficulty=difficulty,
                        prompts_per_step=self.b.prompts, group_size=self.b.group, lr=1e-4)
        return Job("srl", cfg, deps=(init,), label=f"{init.label}/srl-{expert_format}/s{seed}")


class Results:
    """Read-only access to finished jobs."""

    def __init__(self, root: str | Path, plots_dir: str | Path):
        self.root, self.plots = Path(root), Path(plots_dir)
        self._snaps: dict[str, dict] = {}

    def path(self, job: Job) -> Path:
        """The directory of a finished job."""
        return job_dir(self.root, job)

    def snap(self, job: Job) -> dict:
        """A snapshot job's arrays and eval.json (`evals.snapshot.load_snapshot`), read once."""
        if job.key not in self._snaps:
            self._snaps[job.key] = load_snapshot(self.path(job))
        return self._snaps[job.key]

    def metrics(self, job: Job) -> list[dict]:
        """A job's metrics.jsonl rows."""
        return runfiles.MetricsLog(self.path(job) / "metrics.jsonl").read()

    def per_problem(self, jobs: list[Job], field: str = "correct") -> np.ndarray:
        """[S, P] per-problem mean of `field` over samples, one row per job (seed)."""
        return np.stack([self.snap(j)[field].mean(axis=1) for j in jobs])

    def mean_metric(self, jobs: list[list[Job]], key: str, first_step: bool = False) -> float:
        """Mean over runs [prior seed][RL seed] of a per-step training metric, over all the steps that logged it
        or only the first (NaN if none did)."""
        vals = []
        for row in jobs:
            for j in row:
                rows = sorted((r for r in self.metrics(j) if key in r), key=lambda r: r["step"])
                vals += [r[key] for r in rows[:1]] if first_step else [r[key] for r in rows]
        return float(np.mean(vals)) if vals else float("nan")

    def table(self, jobs: list[list[Job]], field: str = "correct") -> np.ndarray:
        """[A, B, P] per-problem means of `field`: snapshot jobs nested [prior seed][RL seed]."""
        return np.stack([self.per_problem(row, field) for row in jobs])


# ------------------------------------------------------------------------------------- statistics
def bootstrap(fn: Callable[..., float], arrays: dict[str, np.ndarray], n_boot: int, seed: int = 0,
              ci: float = 0.95, delta: float = 0.0) -> dict:
    """`common.stats.nested_bootstrap` of fn(**arrays). Each array is [A, B, P] (prior seeds x RL seeds x
    problems) or [S, P] (one prior seed); fn sees every array as [A, B, P] when any is 3-D, else as [S, P]."""
    three = any(np.ndim(a) == 3 for a in arrays.values())
    if three:
        xs = {k: (a if np.ndim(a) == 3 else np.asarray(a)[None]) for k, a in arrays.items()}
        return stats.nested_bootstrap(fn, xs, n_boot=n_boot, seed=seed, ci=ci, delta=delta)
    xs = {k: np.asarray(a)[None] for k, a in arrays.items()}
    return stats.nested_bootstrap(lambda **a: fn(**{k: v[0] for k, v in a.items()}), xs, n_boot=n_boot, seed=seed,
                                  ci=ci, delta=delta)


def decide(effect: dict, delta: float) -> str:
    """The verdict rule without gates (claims.protocol.judge with no gate failed)."""
    return judge(Protocol(claim="-", conditions="", metric="", delta=delta), Measurement(effect, []))[0]


def entry(info: ClaimInfo, protocol: Protocol, m: Measurement, seeds: list[int], plots: list[str] | None = None,
          effect_greedy: dict | None = None) -> dict:
    """The report entry of one claim: the verdict under `protocol` with its gates, the effect (at the
    protocol's decoding, and at greedy when given), its power (mde) and the protocol it was judged by."""
    verdict, reason = judge(protocol, m)
    e = m.effect if m.effect is not None and all(np.isfinite([m.effect[k] for k in ("estimate", "ci_low", "ci_high")])) else None
    se = None if e is None else e.get("se")
    return {
        "id": info.id, "claim": info.claim, "source": info.source, "paper": info.paper,
        "protocol": protocol.conditions, "metric": protocol.metric, "rule": protocol.rule(), "delta": protocol.delta,
        "protocol_spec": protocol.to_json(), "protocol_sha256": protocol.sha256(),
        "protocol_overridden": list(protocol.overridden),
        "verdict": verdict, "reason": reason, "gates": m.gates,
        "mechanism_active": all(g["passed"] for g in m.gates) if m.gates else None,
        "decoding": protocol.decoding,
        "effect": None if e is None else e["estimate"], "ci_low": None if e is None else e["ci_low"],
        "ci_high": None if e is None else e["ci_high"], "se": se,
        "mde": None if se is None else stats.mde(se),
        "p_le_0": None if e is None else e.get("p_le_0"), "p_ge_delta": None if e is None else e.get("p_ge_delta"),
        "effect_greedy": None if effect_greedy is None else {k: effect_greedy.get(k) for k in ("estimate", "ci_low", "ci_high")},
        "seeds": list(seeds), "metrics": m.metrics, "plots": plots or [],
    }


def result(info: ClaimInfo, effect: dict | None, seeds: list[int], metrics: dict, verdict: str | None = None,
           plots: list[str] | None = None, reason: str = "") -> dict:
    """The report entry of a claim that has no PROTOCOL yet: no gates (`mechanism_active` null), its own
    verdict when it gives one."""
    protocol = Protocol(claim=info.id, conditions=info.protocol, metric=info.metric, delta=info.delta)
    e = entry(info, protocol, Measurement(effect, [], metrics), seeds, plots)
    e["rule"] = info.rule
    if verdict is not None:
        e["verdict"], e["reason"] = verdict, reason
    return e


def room(acc: float, lo: float = 0.05, hi: float = 0.95) -> str:
    """'' if a base accuracy leaves room to move both ways, else the reason the claim is untestable."""
    if acc < lo:
        return f"base accuracy {acc:.3f} < {lo}: no behaviour for RL to surface"
    if acc > hi:
        return f"base accuracy {acc:.3f} > {hi}: no room for a gain"
    return ""


def gain(after: np.ndarray, before: np.ndarray) -> float:
    """Mean accuracy after RL minus before ([S, P] arrays)."""
    return float(after.mean() - before.mean())


class Claim:
    """A claim written as a class (the alternative to a module, see `priorlab.claims`): subclass it, set
    `INFO` and `PROTOCOL`, define `jobs` and `analyze`, and register an instance with
    `priorlab.claims.register(MyClaim())` or list it in a file's `CLAIMS` for `retest --claims-from`."""

    INFO: ClaimInfo
    PROTOCOL: Protocol

    def jobs(self, lab: Lab, seeds: list[int]) -> list[Job]:
        """The runs this claim needs (build them with `lab`'s helpers so shared runs are computed once)."""
        raise NotImplementedError

    def analyze(self, lab: Lab, res: Results, seeds: list[int], protocol: Protocol) -> dict:
        """The report entry (`entry(self.INFO, protocol, measurement, seeds)`) from the finished runs in `res`."""
        raise NotImplementedError
