"""RLVR: one loop over an environment and a policy -- GRPO and its variants, every reward, deterministic resume.

    priorlab rl --init runs/pt --reward correct --algo grpo --steps 60 --out runs/rl       # the world
    priorlab rl --init hf:models/Qwen2.5-Math-1.5B --data math_train.jsonl --template qwen-math \
        --lr 1e-6 --max-new-tokens 1024 --out runs/qwen-rl                                # a real model
    train(cfg, out)                       # env and policy built from cfg; or train(cfg, out, env=..., policy=...)

The environment (`rl.envs.WorldEnv`, `math.env.MathEnv`) supplies the prompts of each step, verification
(-> `Verdict`s, scored by `rl.rewards`) and the evaluation set; the policy (`rl.policies.WorldPolicy`,
`HFPolicy`) supplies rollouts, log-probs and checkpoints. HICRA is an algorithm option (`--algo hicra`,
planning-token credit from the world's token labels); SRL (`sft.srl`) is this loop with its own
environment (step prefixes, similarity to the expert's next step, loss over the first step's tokens).

How this departs from textbook GRPO (each is a named option, see `priorlab.rl.algos`):
- the sample std in the group baseline (`grpo`), as verl / TRL / the Spurious-Rewards code compute it;
- several mini-batches (and optionally epochs) per rollout batch, so the importance ratio departs
  from 1 and clipping acts — the mechanism behind the spurious-reward results (arXiv 2506.10947);
- the first mini-batch takes its own forward pass as the old log-probs, so it starts at ratio exactly 1;
  the other rows take a full no-grad forward (world) or the sampler's own log-probs (HF, saving a forward
  of a large model);
- a Hugging Face policy stays in eval mode while training (dropout off, as in TRL's GRPOTrainer), so the
  sampling policy and the differentiated one are the same function;
- no KL term unless `--kl-beta` > 0 (k3 estimator against the initial policy).

One iteration reads as labelled stages: sample, score, advantages, update, evaluate, log, checkpoint.
The prompts, the sampling generator, the random reward and the mini-batch order of step s are pure
functions of (seed, s), so `--resume` after a kill ends bitwise identical to an uninterrupted run.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from priorlab.common import checkpoints, config, finite, logs, rundirs, runfiles
from priorlab.common.config import RL_ADAM, AdamWConfig
from priorlab.common.seeds import derive
from priorlab.math.data import DataSpec
from priorlab.math.env import MathEnv
from priorlab.math.grading import DEFAULT_TIMEOUT
from priorlab.math.prompts import check_template
from priorlab.model.checkpoint import load_model
from priorlab.model.completions import Rollouts
from priorlab.model.hf.load import is_hf_ref
from priorlab.rl import algos
from priorlab.rl.envs import ONE_SHOT_RULES, Env, WorldEnv
from priorlab.rl.policies import HFPolicy, WorldPolicy
from priorlab.rl.rewards import parse_spec
from priorlab.world.tasks import RL_DIFFICULTY, parse_difficulties

if TYPE_CHECKING:
    from priorlab.sft.srl import SRLConfig


@dataclass(frozen=True)
class RLConfig:
    """One RL run. `init` is a priorlab run directory (the controlled world) or a Hugging Face checkpoint
    (`hf:PATH`, then `data` is required); the world-only and HF-only fields are grouped below."""

    init: str = ""
    reward: str = "correct"
    algo: str = "grpo"
    steps: int = 60
    seed: int = 0
    prompts_per_step: int = 16  # P
    group_size: int = 8  # G
    minibatches: int = 4  # per rollout batch: > 1 moves the ratio off 1
    epochs: int = 1  # passes over each rollout batch
    lr: float = 3e-5  # 1e-4 collapsed a 0.34M-parameter prior in a feasibility probe; 1e-5..3e-5 was stable
    grad_clip: float = 1.0
    temperature: float = 1.0
    max_new_tokens: int = 96
    label_samples: int = 16  # base-model samples per problem for the `incorrect` labels / one-shot rule
    eval_every: int = 20
    eval_samples: int = 4
    ckpt_every: int = 20
    store_rollouts: bool = False
    overrides: tuple = ()  # ((name, value), ...) applied to the algo preset
    ref_reset_every: int = 0  # ProRL: every N steps the KL reference becomes the policy, the optimizer restarts
    adam: AdamWConfig = field(default_factory=lambda: RL_ADAM)
    # the controlled world
    difficulty: str = RL_DIFFICULTY
    train_problems: int = 0  # 0: fresh problems every step; K: a fixed pool of K (1 = one-shot RLVR)
    one_shot_rule: str = "pass-rate"
    eval_problems: int = 100  # held-out problems per difficulty (world); --eval-data records kept (HF)
    # Hugging Face models and math data files
    data: DataSpec | None = None
    eval_data: DataSpec | None = None
    template: str = "plain"
    top_p: float = 1.0
    dtype: str = "float32"  # master weights; bf16 AdamW updates lose the small steps RL makes
    device: str = "cpu"
    batch_size: int = 64  # sequences per generate call / per no-grad forward
    timeout: float = DEFAULT_TIMEOUT  # seconds per Math-Verify comparison

    def __post_init__(self) -> None:
        config.require_finite(self)
        config.require_positive(self, (
            "steps", "prompts_per_step", "group_size", "minibatches", "epochs", "max_new_tokens", "eval_every",
            "ckpt_every", "eval_problems", "eval_samples", "label_samples", "batch_size"))
        if self.train_problems < 0:
            raise ValueError(f"--train-problems must be >= 0, got {self.train_problems}")
        if self.ref_reset_every < 0:
            raise ValueError(f"--ref-reset-every must be >= 0, got {self.ref_reset_every}")
        if self.ref_reset_every and self.hf:
            raise ValueError("--ref-reset-every is for the controlled world; Hugging Face runs keep one reference")
        if self.minibatches > self.prompts_per_step * self.group_size:
            raise ValueError("--minibatches cannot exceed prompts-per-step x group-size")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"--temperature {self.temperature} must be >= 0 and --top-p {self.top_p} in (0, 1]")
        if self.one_shot_rule not in ONE_SHOT_RULES:
            raise ValueError(f"--one-shot-rule {self.one_shot_rule!r}: valid: {', '.join(ONE_SHOT_RULES)}")
        if self.init and is_hf_ref(self.init) and self.data is None:
            raise ValueError(f"--init {self.init} is a Hugging Face model: pass the training problems with --data FILE")
        if self.data is not None and self.init and not is_hf_ref(self.init):
            raise ValueError(f"--data needs a Hugging Face model (--init hf:PATH); {self.init} is a priorlab run "
                             "directory")
        parse_difficulties(self.difficulty)
        parse_spec(self.reward)
        check_template(self.template)
        acfg = self.algo_config()  # validates the preset and overrides
        if self.hf and acfg.hicra_alpha > 0:
            raise ValueError("--algo hicra / --hicra-alpha need planning-token labels, which only the controlled "
                             "world has; use another algorithm with Hugging Face models")

    @property
    def hf(self) -> bool:
        """A Hugging Face policy on a math data file (else the controlled world)."""
        return self.data is not None or (bool(self.init) and is_hf_ref(self.init))

    def algo_config(self) -> algos.AlgoConfig:
        """The algorithm preset with the overrides applied, for this run's token budget."""
        return algos.resolve_for_budget(self.algo, self.overrides, max_new_tokens=self.max_new_tokens)


# --------------------------------------------------------------------------------------- stages
def update(model, opt, ro: Rollouts, adv: torch.Tensor, keep_rows: torch.Tensor, acfg, cfg, step: int,
           ref_model=None, *, policy_logprobs, score_mask: torch.Tensor | None = None,
           old_logprobs: torch.Tensor | None = None) -> dict:
    """Epochs x mini-batches of policy-gradient steps on one rollout batch; returns mean metrics.

    score_mask [B, T] bool: the tokens the loss is over (default: every completion token; SRL passes its
    first-step tokens). cfg supplies seed, epochs, minibatches, temperature and grad_clip (an RLConfig
    or SRLConfig); a non-finite loss or gradient raises `finite.NonFiniteError` before the optimizer step.
    policy_logprobs(model, input_ids, attn_mask, mask, *, temperature) -> (logprobs, entropies) [B, T]:
    the policy's log-likelihood with gradients (`Policy.logprobs`).
    Old log-probs are those of the policy before this step's first update: the first mini-batch takes
    its own (detached) forward pass; the rows it does not hold take old_logprobs [B, T] when given (the
    sampler's own), else an extra no-grad forward.
    """
    if keep_rows.numel() == 0:
        return {"loss/skipped": 1.0}
    logprobs_of = policy_logprobs
    mask = ro.completion_mask if score_mask is None else score_mask
    # the policy is the temperature-scaled distribution the rollouts were drawn from (T=0 is scored at 1)
    temperature = cfg.temperature or 1.0
    g = torch.Generator().manual_seed(derive(cfg.seed, "step", step))
    orders = [keep_rows[torch.randperm(keep_rows.numel(), generator=g)] for _ in range(cfg.epochs)]
    batches = [mb for order in orders for mb in torch.tensor_split(order, min(cfg.minibatches, order.numel()))]
    with torch.no_grad():
        if old_logprobs is not None:
            old = old_logprobs.clone()
        else:
            old = torch.zeros(mask.shape, device=ro.input_ids.device)
            rest = keep_rows[~torch.isin(keep_rows, batches[0])]
            if len(batches) > 1 and rest.numel():
                old[rest] = logprobs_of(model, ro.input_ids[rest], ro.attn_mask[rest], mask[rest],
                                        temperature=temperature)[0]
        ref = None
        if acfg.kl_beta > 0:
            ref = logprobs_of(ref_model, ro.input_ids, ro.attn_mask, mask)[0]
    metrics: list[dict] = []
    for i, mb in enumerate(batches):
        logp, ent = logprobs_of(model, ro.input_ids[mb], ro.attn_mask[mb], mask[mb], temperature=temperature)
        if i == 0:
            old[mb] = logp.detach()  # nothing has been updated yet: the current policy is the old one
        loss, m = algos.policy_loss(
            logp, old[mb], adv[mb], mask[mb], acfg,
            ref_logprobs=None if ref is None else ref[mb], entropies=ent,
            planning_mask=ro.planning_mask[mb] if acfg.hicra_alpha > 0 and ro.planning_mask is not None else None)
        finite.check_step(loss, None, step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        finite.check_step(loss, gnorm, step)  # before the optimizer step: the weights stay finite
        m["grad_norm"] = float(gnorm)
        opt.step()
        metrics.append(m)
    # the gradient norm (before clipping) is an update statistic, the rest are loss terms (README's metrics table)
    return {("update/grad_norm" if k == "grad_norm" else f"loss/{k}"): float(np.mean([m[k] for m in metrics if k in m]))
            for k in metrics[0]}


@dataclass
class Trainer:
    """What one RL run holds between steps; `step(s)` is one iteration's sample, score, advantages and update."""

    cfg: RLConfig
    env: Env
    policy: WorldPolicy | HFPolicy
    opt: torch.optim.Optimizer
    ref_model: torch.nn.Module | None = None

    def __post_init__(self) -> None:
        self.acfg = self.cfg.algo_config()

    def step(self, step: int) -> tuple[dict, tuple]:
        """Run RL step `step` (0-based); (metrics, (problems, rollouts, outputs, advantages)).

        cfg supplies seed, group_size, temperature, top_p and what `update` reads (an RLConfig or SRLConfig);
        the env the prompts, the rollout budget, the scores (and the tokens they are over) and the metrics."""
        cfg, acfg, env, policy = self.cfg, self.acfg, self.env, self.policy
        problems = env.prompts(step)  # ---- sample
        ro = policy.rollout(env.prompt_ids(problems), group_size=cfg.group_size, max_new_tokens=env.rollout_tokens,
                            temperature=cfg.temperature, top_p=cfg.top_p, seed=derive(cfg.seed, "step", step))
        rewards, outs, score_mask = env.score(problems, ro, step)  # ---- score [P, G]
        adv = algos.group_advantages(rewards, acfg)  # ---- advantages [P, G]
        keep = algos.dynamic_sampling_mask(rewards) if acfg.dynamic_sampling else torch.ones(len(problems), dtype=torch.bool)
        keep_rows = torch.nonzero(keep.repeat_interleave(cfg.group_size)).flatten()
        upd = update(policy.model, self.opt, ro, adv.reshape(-1), keep_rows, acfg, cfg, step + 1,  # ---- update
                     self.ref_model, policy_logprobs=policy.logprobs, old_logprobs=policy.old_logprobs(ro),
                     score_mask=score_mask)
        row = {**env.metrics(problems, ro, outs, rewards, score_mask), **upd,
               **{f"adv/{k}": v for k, v in algos.advantage_metrics(rewards, adv).items()},
               "adv/groups_kept": float(keep.float().mean())}
        return row, (problems, ro, outs, adv)


def build(cfg: RLConfig, log=None) -> tuple[Env, Any]:
    """The environment and the policy class a config asks for: the world, or a math data file + HF model."""
    log = logs.to(log, __name__)
    if cfg.hf:
        return MathEnv(cfg, log=log), HFPolicy
    return WorldEnv(cfg), WorldPolicy


# ------------------------------------------------------------------------------------------- loop
def train(cfg: RLConfig | SRLConfig, out: str | Path, *, env: Env | None = None, policy=None, stage: str = "rl",
          resume: bool = False, progress: bool = True, log=None) -> dict:
    """Run (or with `resume`, continue) RL into `out`; the summary. `env` / `policy` default to `build(cfg)`;
    `stage` names the run in config.json and summary.json (SRL passes its env, policy and "srl")."""
    log = logs.to(log, __name__)
    out = Path(out)
    with rundirs.claim(out, resume=resume, log=log) as run:
        return _train(cfg, out, env=env, policy=policy, stage=stage, resume=resume, progress=progress, log=log,
                      run=run)


def _train(cfg, out: Path, *, env, policy, stage, resume, progress, log, run: rundirs.Claim) -> dict:
    acfg = cfg.algo_config()
    settings = {**asdict(cfg), "stage": stage, "algo_resolved": asdict(acfg)}
    if (done := rundirs.finished_summary(out, resume, log, settings)) is not None:
        return done
    if env is None:
        env, policy_cls = build(cfg, log)
    ckpt = checkpoints.latest_checkpoint(out) if resume else None
    try:
        if policy is None:
            policy = policy_cls.load(cfg.init, cfg, ckpt)
        model = policy.model
        ref_model = copy.deepcopy(model).eval() if acfg.kl_beta > 0 else None  # the initial policy
        for p in ref_model.parameters() if ref_model else ():
            p.requires_grad_(False)
        opt = cfg.adam.build(model.parameters(), lr=cfg.lr)
        resolved = {**settings, **policy.config()}
        start, metrics_log = rundirs.open_run(out, resolved, policy, opt, resume=resume, ckpt=ckpt, log=log)
        reset_every = getattr(cfg, "ref_reset_every", 0)
        if ref_model is not None and reset_every and start >= reset_every:  # resumed after a reset: its reference
            reset_step = start // reset_every * reset_every
            ref_model.load_state_dict(load_model(out / "checkpoints" / f"step_{reset_step:08d}")[0].state_dict())
        env.prepare(policy, out, log)
        trainer = Trainer(cfg, env, policy, opt, ref_model)
        if ckpt is None and (before := env.evaluate(0)):
            metrics_log.append({"step": 0, **before})
        t_run = time.perf_counter()
        run.begin()
        for step in range(start, cfg.steps):
            t0 = time.perf_counter()
            metrics, (problems, ro, outs, adv) = trainer.step(step)  # ---- sample, score, advantages, update
            row = {"step": step + 1, **metrics}
            if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:  # ---- evaluate
                row.update(env.evaluate(step + 1))
            # at the last step too, so that a finished run extended with more steps continues as the longer run
            reset = bool(reset_every) and (step + 1) % reset_every == 0
            if reset:  # ---- ProRL's reference reset: the policy becomes the reference, the optimizer restarts
                reset_reference(model, ref_model, opt)
                row["ref_reset"] = 1
            row["time/step_s"] = time.perf_counter() - t0
            metrics_log.append(row)  # ---- log
            if getattr(cfg, "store_rollouts", False):
                store_rollouts(out, step + 1, [env.problem_id(p) for p in problems], ro, outs, adv, cfg)
            if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps or reset:  # ---- checkpoint (resets too)
                policy.save_checkpoint(out, step + 1, opt)
            if progress:
                log(f"step {step + 1}/{cfg.steps} {env.progress(row)}")
    finally:
        env.close()
    final = policy.save_final(out, cfg.steps)
    rows = metrics_log.read()
    train_rows = [r for r in rows if "correct/mean" in r]
    evals = [r for r in rows if any(k.startswith("eval/") for k in r)]
    first, last = (evals[0], evals[-1]) if evals else ({}, {})
    summary = {"stage": stage, "steps": cfg.steps, "elapsed_s": time.perf_counter() - t_run, "resumed_from": start,
               **final,
               **({"correct/first_step": train_rows[0]["correct/mean"], "correct/last_step": train_rows[-1]["correct/mean"]}
                  if train_rows else {}),
               **{f"{k}/before": first[k] for k in first if k.startswith("eval/")},
               **{f"{k}/after": last[k] for k in last if k.startswith("eval/")}}
    runfiles.atomic_write_json(out / "summary.json", summary)
    return summary


def reset_reference(model: torch.nn.Module, ref_model: torch.nn.Module | None, opt: torch.optim.Optimizer) -> None:
    """ProRL's periodic reset (arXiv 2505.24864 §3): the KL reference becomes a copy of the current policy
    and the optimizer's moment estimates restart (AdamW's state cleared, its bias correction from step 1)."""
    if ref_model is not None:
        ref_model.load_state_dict(model.state_dict())
    opt.state.clear()


def store_rollouts(out: Path, step: int, problem_ids: list[str], ro: Rollouts, outs, adv, cfg: RLConfig) -> None:
    """rollouts/step_N.parquet: one row per completion (problem, text, reward, correctness, advantage, ...)."""
    G = cfg.group_size
    flat = [o for group in outs for o in group]
    table = pa.table({
        "step": [step] * len(flat), "prompt_id": [i // G for i in range(len(flat))],
        "problem": [problem_ids[i // G] for i in range(len(flat))], "completion": ro.texts,
        "reward": [o.score for o in flat], "correct": [o.correct for o in flat],
        "advantage": adv.reshape(-1).tolist(), "length": ro.lengths.tolist(),
        "components": [str(o.components) for o in flat],
    })
    d = out / "rollouts"
    d.mkdir(exist_ok=True)
    tmp = d / f".step_{step:06d}.parquet.tmp"
    pq.write_table(table, tmp)
    tmp.replace(d / f"step_{step:06d}.parquet")

