"""What every claim module shares: budgets (presets), job constructors, results, statistics, verdicts.

A claim module defines `INFO` (the claim in one sentence, its source, the paper's headline number, the
protocol and the verdict rule), `jobs(lab, seeds) -> list[Job]` (the conditions it compares) and
`analyze(lab, res, seeds) -> dict` (metrics, effect with a confidence interval, verdict, plots).

Conditions are built through `Lab`, so the same condition requested by two claims (e.g. GRPO with the
correct reward on the default prior, seed 0) is the same job and is computed once.

Verdict rule (`decide`), for an effect whose claimed direction is positive and a minimum effect δ:
`reproduced` if the CI's lower end is above 0 and the estimate is at least δ; `not reproduced` if the
CI's upper end is at most δ (the data exclude an effect larger than δ); `inconclusive` otherwise
(the interval is too wide to tell). `untestable` is reported, without a verdict, when the controlled
world gives the claim no room (e.g. a base accuracy of 0 or 1 where the claim needs a gain).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from priorlab.common import runfiles
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
    protocol: str  # conditions compared in the controlled world
    metric: str  # what `effect` measures
    rule: str  # the verdict rule with its thresholds
    delta: float  # minimum effect that counts as the claim holding


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


PRESETS = {
    "smoke": Budget("smoke", seeds=2, size="xs", small_size="xs", tokens=16 * 64 * 120, pt_batch=16, pt_seq=64,
                    rl_steps=3, prompts=4, group=4, eval_problems=12, eval_samples=2, passk_problems=8,
                    passk_samples=8, passk_difficulty="5x1", hard_difficulty="5x1", easy_difficulty="2x1",
                    sft_steps=4, srl_steps=2, n_boot=200, max_new_tokens=64),
    "quick": Budget("quick", seeds=2, size="s", small_size="xs", tokens=6_000_000, pt_batch=32, pt_seq=128,
                    rl_steps=30, prompts=16, group=8, eval_problems=100, eval_samples=8, passk_problems=60,
                    passk_samples=128, passk_difficulty="6x1", hard_difficulty="6x1", easy_difficulty="2x1",
                    sft_steps=300, srl_steps=30, n_boot=1000),
    "full": Budget("full", seeds=5, size="s", small_size="xs", tokens=8_000_000, pt_batch=32, pt_seq=128,
                   rl_steps=150, prompts=16, group=8, eval_problems=300, eval_samples=16, passk_problems=200,
                   passk_samples=256, passk_difficulty="6x1", hard_difficulty="6x1", easy_difficulty="2x1",
                   sft_steps=400, srl_steps=100, n_boot=2000, catalyst_fractions=(8, 3, 1)),
}
MAIN_PRIOR = "code-prior-conf"  # code-prior plus calibrated confidence tags: serves every claim that needs one


class Lab:
    """Builds the jobs of a preset; identical conditions give identical (deduplicated) jobs.

    Each method constructs its stage's config dataclass directly, so a wrong or renamed field raises
    TypeError when the jobs are built, before anything runs.
    """

    def __init__(self, budget: Budget):
        self.b = budget

    def prior(self, mixture: str = MAIN_PRIOR, size: str | None = None, tokens: int | None = None) -> Job:
        b = self.b
        size, tokens = size or b.size, tokens or b.tokens
        cfg = PretrainConfig(mixture=mixture, size=size, tokens=tokens, seed=0, batch_size=b.pt_batch,
                             seq_len=b.pt_seq, eval_every=10_000,
                             ckpt_every=max(50, tokens // (b.pt_batch * b.pt_seq) // 4))
        return Job("pretrain", cfg, label=f"{mixture}/{size}/{tokens}")

    def rl(self, init: Job, seed: int, reward: str = "correct", algo: str = "grpo", difficulty: str = RL_DIFFICULTY,
           steps: int | None = None, tag: str = "", **kw) -> Job:
        """GRPO-family run from `init`; `kw` are further RLConfig fields (e.g. train_problems, overrides)."""
        b = self.b
        steps = steps or b.rl_steps
        cfg = RLConfig(reward=reward, algo=algo, steps=steps, seed=seed, prompts_per_step=b.prompts,
                       group_size=b.group, difficulty=difficulty, eval_every=max(1, steps // 2),
                       ckpt_every=max(1, steps // 2), eval_problems=min(50, b.eval_problems), eval_samples=2,
                       max_new_tokens=b.max_new_tokens, label_samples=8 if b.name != "smoke" else 2, **kw)
        extra = "".join(f"/{k}={v}" for k, v in kw.items())
        if difficulty != RL_DIFFICULTY:
            extra += f"/{difficulty}"
        return Job("rl", cfg, deps=(init,), label=f"{tag or init.label}/{reward}/{algo}{extra}/s{seed}")

    def snapshot(self, model: Job, difficulty: str = RL_DIFFICULTY, *, samples: int | None = None,
                 problems: int | None = None, checkpoint: int | None = None, temperature: float = 1.0) -> Job:
        b = self.b
        cfg = SnapshotConfig(difficulty=difficulty, samples=samples or b.eval_samples,
                             problems=problems or b.eval_problems, temperature=temperature, seed=0,
                             max_new_tokens=max(b.max_new_tokens, 128), checkpoint=checkpoint)
        return Job("eval", cfg, deps=(model,), label=f"{model.label}@{difficulty}")

    def passk(self, model: Job) -> Job:
        return self.snapshot(model, self.b.passk_difficulty, samples=self.b.passk_samples,
                             problems=self.b.passk_problems)

    def sft(self, init: Job, seed: int, teacher_format: str, difficulty: str = "2x1,3x1,4x1,5x1,6x1") -> Job:
        # every difficulty of the pretraining mixture, so the new format is learnt for long problems too
        cfg = SFTConfig(teacher_format=teacher_format, steps=self.b.sft_steps, seed=seed, difficulty=difficulty,
                        lr=3e-4)
        return Job("sft", cfg, deps=(init,), label=f"{init.label}/sft-{teacher_format}/s{seed}")

    def srl(self, init: Job, seed: int, expert_format: str = "code", difficulty: str = RL_DIFFICULTY) -> Job:
        cfg = SRLConfig(expert_format=expert_format, steps=self.b.srl_steps, seed=seed, difficulty=difficulty,
                        prompts_per_step=self.b.prompts, group_size=self.b.group, lr=1e-4)
        return Job("srl", cfg, deps=(init,), label=f"{init.label}/srl-{expert_format}/s{seed}")


class Results:
    """Read-only access to finished jobs."""

    def __init__(self, root: str | Path, plots_dir: str | Path):
        self.root, self.plots = Path(root), Path(plots_dir)
        self._snaps: dict[str, dict] = {}

    def path(self, job: Job) -> Path:
        return job_dir(self.root, job)

    def snap(self, job: Job) -> dict:
        if job.key not in self._snaps:
            self._snaps[job.key] = load_snapshot(self.path(job))
        return self._snaps[job.key]

    def metrics(self, job: Job) -> list[dict]:
        return runfiles.MetricsLog(self.path(job) / "metrics.jsonl").read()

    def per_problem(self, jobs: list[Job], field: str = "correct") -> np.ndarray:
        """[S, P] per-problem mean of `field` over samples, one row per job (seed)."""
        return np.stack([self.snap(j)[field].mean(axis=1) for j in jobs])


# ------------------------------------------------------------------------------------- statistics
def bootstrap(fn: Callable[..., float], arrays: dict[str, np.ndarray], n_boot: int, seed: int = 0,
              ci: float = 0.95) -> dict:
    """Percentile CI of fn(**arrays) under a two-level bootstrap.

    Each array is [S, P, ...] (seeds x problems); every replicate resamples each array's seeds
    independently and the problems once for all arrays (they share the evaluation set, so problem
    difficulty cancels in paired comparisons). Arrays with one seed keep it.
    """
    ps = {a.shape[1] for a in arrays.values()}
    if len(ps) != 1:
        raise ValueError(f"arrays must share the problem axis, got sizes {sorted(ps)}")
    p = ps.pop()
    rng = np.random.default_rng(seed)
    est = float(fn(**arrays))
    reps = []
    for _ in range(n_boot):
        pi = rng.integers(0, p, size=p)
        reps.append(fn(**{k: a[rng.integers(0, a.shape[0], size=a.shape[0])][:, pi] for k, a in arrays.items()}))
    reps = np.asarray(reps, dtype=float)
    reps = reps[np.isfinite(reps)]
    alpha = (1 - ci) / 2
    lo, hi = (np.quantile(reps, [alpha, 1 - alpha]) if reps.size else (np.nan, np.nan))
    return {"estimate": est, "ci_low": float(lo), "ci_high": float(hi)}


def decide(effect: dict, delta: float) -> str:
    """The shared verdict rule (module docstring), for an effect claimed to be positive."""
    est, lo, hi = effect["estimate"], effect["ci_low"], effect["ci_high"]
    if not all(np.isfinite([est, lo, hi])):
        return "inconclusive"
    if lo > 0 and est >= delta:
        return "reproduced"
    if hi <= delta:
        return "not reproduced"
    return "inconclusive"


def result(info: ClaimInfo, effect: dict | None, seeds: list[int], metrics: dict, verdict: str | None = None,
           plots: list[str] | None = None, reason: str = "") -> dict:
    """The report entry of one claim."""
    if verdict is None:
        verdict = decide(effect, info.delta) if effect else "inconclusive"
    if effect is not None and not all(np.isfinite([effect["estimate"], effect["ci_low"], effect["ci_high"]])):
        effect = None  # an undefined effect (e.g. a ratio with a zero denominator) is reported as absent
    return {
        "id": info.id, "claim": info.claim, "source": info.source, "paper": info.paper, "protocol": info.protocol,
        "metric": info.metric, "rule": info.rule, "verdict": verdict,
        "effect": None if effect is None else effect["estimate"],
        "ci_low": None if effect is None else effect["ci_low"], "ci_high": None if effect is None else effect["ci_high"],
        "seeds": list(seeds), "metrics": metrics, "plots": plots or [], "reason": reason,
    }


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
