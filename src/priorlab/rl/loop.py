"""RLVR on a pretrained prior: GRPO and its variants, every reward, deterministic resume.

    priorlab rl --init runs/pt --reward correct --algo grpo --steps 60 --out runs/rl

How this departs from textbook GRPO (each is a named option, see `priorlab.rl.algos`):
- the sample std in the group baseline (`grpo`), as verl / TRL / the Spurious-Rewards code compute it;
- several mini-batches (and optionally epochs) per rollout batch, so the importance ratio departs
  from 1 and clipping acts — the mechanism behind the spurious-reward results (arXiv 2506.10947);
- old log-probs are recomputed with a full forward pass before the update (the sampler's own are kept
  for the entropy metrics), so the first mini-batch starts at ratio exactly 1;
- no KL term unless `--kl-beta` > 0 (k3 estimator against the initial policy).

One iteration reads as labelled stages: sample, score, advantages, update, evaluate, log, checkpoint.
The prompts, the sampling generator, the random reward and the mini-batch order of step s are pure
functions of (seed, s), so `--resume` after a kill ends bitwise identical to an uninterrupted run.
"""

from __future__ import annotations

import copy
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from priorlab.common import runs
from priorlab.evals import world_eval as ev
from priorlab.model.sampling import sequence_logprobs
from priorlab.pretrain import load_model
from priorlab.rl import algos
from priorlab.rl.rewards import make_reward
from priorlab.rl.rollout import Rollouts, rollout
from priorlab.world.formats import FORMATS, parse
from priorlab.world.tasks import Problem, get_task
from priorlab.world.tokenizer import Tokenizer

ONE_SHOT_RULES = ("pass-rate", "first")


class RLError(RuntimeError):
    """A run that cannot go on (e.g. a NaN loss); the message names the step and the last checkpoint."""


@dataclass(frozen=True)
class RLConfig:
    init: str = ""
    reward: str = "correct"
    algo: str = "grpo"
    steps: int = 60
    seed: int = 0
    prompts_per_step: int = 16  # P
    group_size: int = 8  # G
    minibatches: int = 4  # per rollout batch: > 1 moves the ratio off 1
    epochs: int = 1  # passes over each rollout batch
    lr: float = 3e-5  # 1e-4 collapsed the prior in the feasibility probe (DESIGN.md §2a)
    grad_clip: float = 1.0
    temperature: float = 1.0
    max_new_tokens: int = 96
    difficulty: str = ev.RL_DIFFICULTY
    train_problems: int = 0  # 0: fresh problems every step; K: a fixed pool of K (1 = one-shot RLVR)
    one_shot_rule: str = "pass-rate"
    label_samples: int = 16  # base-model samples per problem for the `incorrect` labels / one-shot rule
    eval_every: int = 20
    eval_problems: int = 100
    eval_samples: int = 4
    ckpt_every: int = 20
    store_rollouts: bool = False
    overrides: tuple = ()  # ((name, value), ...) applied to the algo preset

    def __post_init__(self) -> None:
        runs.require_positive(self, (
            "steps", "prompts_per_step", "group_size", "minibatches", "epochs", "max_new_tokens", "eval_every",
            "ckpt_every", "eval_problems", "eval_samples", "label_samples"))
        if self.train_problems < 0:
            raise ValueError(f"--train-problems must be >= 0, got {self.train_problems}")
        if self.minibatches > self.prompts_per_step * self.group_size:
            raise ValueError("--minibatches cannot exceed prompts-per-step x group-size")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if self.one_shot_rule not in ONE_SHOT_RULES:
            raise ValueError(f"--one-shot-rule {self.one_shot_rule!r}: valid: {', '.join(ONE_SHOT_RULES)}")
        ev.parse_difficulties(self.difficulty)
        self.algo_config()  # validates the preset and overrides

    def algo_config(self) -> algos.AlgoConfig:
        kw = dict(self.overrides)
        if self.algo == "dr_grpo" and "agg_constant" not in kw:
            kw["agg_constant"] = float(self.max_new_tokens)  # Dr. GRPO's constant: the generation budget
        return algos.resolve_algo(self.algo, **kw)


# ------------------------------------------------------------------------------------------ data
def draw_problems(n: int, difficulty: str, rng: random.Random) -> list[Problem]:
    task, diffs = get_task(), ev.parse_difficulties(difficulty)
    return [task.generate(rng, rng.choice(diffs), split="train") for _ in range(n)]


def base_answers(model, problems: list[Problem], n: int, cfg: RLConfig) -> list[list[dict]]:
    """n scored samples per problem from the base model (for `incorrect` labels and one-shot choice)."""
    ecfg = ev.EvalConfig(samples=n, temperature=1.0, max_new_tokens=cfg.max_new_tokens, difficulty=cfg.difficulty)
    return ev.score(problems, ev.generate(model, problems, n, ecfg, seed=cfg.seed + 7919))


def one_shot_choice(problems: list[Problem], samples: list[list[dict]], rule: str) -> int:
    """The one-shot example: `pass-rate` picks the base pass rate closest to 0.5 (ties: first), a
    stand-in for the historical-variance score of arXiv 2504.20571 that needs no earlier RL run."""
    if rule == "first":
        return 0
    rates = [np.mean([c["correct"] for c in comps]) for comps in samples]
    return int(np.argmin([abs(r - 0.5) for r in rates]))


class Data:
    """Which problems each step trains on: fresh draws, or a fixed pool (K = 1: one-shot RLVR)."""

    def __init__(self, cfg: RLConfig, pool: list[Problem] | None):
        self.cfg, self.pool = cfg, pool

    def prompts(self, step: int) -> list[Problem]:
        rng = random.Random(f"rl-prompts:{self.cfg.seed}:{step}")
        if self.pool is None:
            return draw_problems(self.cfg.prompts_per_step, self.cfg.difficulty, rng)
        if len(self.pool) >= self.cfg.prompts_per_step:
            return rng.sample(self.pool, self.cfg.prompts_per_step)
        return [rng.choice(self.pool) for _ in range(self.cfg.prompts_per_step)]  # one-shot: the example repeated


def prepare_data(model, cfg: RLConfig, out: Path, log) -> tuple[Data, dict | None]:
    """Fix the training pool (and the `incorrect` reward's labels) before step 0; saved in data.json."""
    from priorlab.rl.rewards import incorrect_labels

    needs_labels = cfg.reward.split("+")[0].split(":")[0] == "incorrect"
    saved = out / "data.json"
    if saved.exists():
        d = runs.read_json(saved)
        pool = [Problem.from_expr(e) for e in d["pool"]] if d["pool"] is not None else None
        return Data(cfg, pool), d.get("labels")
    rng = random.Random(f"rl-pool:{cfg.seed}")
    pool, labels = None, None
    if cfg.train_problems == 1:
        cands = draw_problems(64, cfg.difficulty, rng)
        pick = one_shot_choice(cands, base_answers(model, cands, cfg.label_samples, cfg), cfg.one_shot_rule)
        pool = [cands[pick]]
        log(f"one-shot example ({cfg.one_shot_rule}): {pool[0].expr}")
    elif cfg.train_problems > 1 or needs_labels:
        pool = draw_problems(cfg.train_problems or 256, cfg.difficulty, rng)
    if needs_labels:
        samples = base_answers(model, pool, cfg.label_samples, cfg)
        labels = incorrect_labels(pool, [[c["answer"] for c in comps] for comps in samples])
        pool = [p for p in pool if p.expr in labels]
        if not pool:
            raise ValueError("--reward incorrect: the base model's majority answer is right on every problem")
        log(f"incorrect reward: {len(pool)} problems whose base majority answer is wrong")
    runs.atomic_write_json(saved, {"pool": None if pool is None else [p.expr for p in pool], "labels": labels})
    return Data(cfg, pool), labels


# --------------------------------------------------------------------------------------- stages
def score(reward, problems: list[Problem], texts: list[str], cfg: RLConfig, step: int) -> tuple[torch.Tensor, list]:
    """Rewards [P, G] and the per-sample outputs (components, shadow correctness)."""
    G, outs = cfg.group_size, []
    for i, p in enumerate(problems):
        outs.append(reward.score_group(p, texts[i * G : (i + 1) * G], step=step, prompt_index=i))
    return torch.tensor([[o.score for o in group] for group in outs], dtype=torch.float32), outs


def update(model, opt, ro: Rollouts, adv: torch.Tensor, keep_rows: torch.Tensor, acfg, cfg, step: int,
           ref_model=None, *, score_mask: torch.Tensor | None = None, error: type[Exception] = RLError,
           policy_logprobs=None, old_logprobs: torch.Tensor | None = None) -> dict:
    """Epochs x mini-batches of policy-gradient steps on one rollout batch; returns mean metrics.

    score_mask [B, T] bool: the tokens the loss is over (default: every completion token; SRL passes its
    first-step tokens). cfg supplies seed, epochs, minibatches, temperature and grad_clip (an RLConfig,
    SRLConfig or HFRLConfig); a non-finite loss raises `error`.
    policy_logprobs(model, input_ids, attn_mask, mask, *, temperature) -> (logprobs, entropies) [B, T]:
    the policy's log-likelihood with gradients (default: the world model's sequence_logprobs; the HF
    trainer passes sequence_logprobs_hf).
    Old log-probs are those of the policy before this step's first update: the first mini-batch takes
    its own (detached) forward pass; the rows it does not hold take old_logprobs [B, T] when given (the
    sampler's own), else an extra no-grad forward.
    """
    if keep_rows.numel() == 0:
        return {"loss/skipped": 1.0}
    logprobs_of = policy_logprobs or _world_logprobs
    mask = ro.completion_mask if score_mask is None else score_mask
    # the policy is the temperature-scaled distribution the rollouts were drawn from (T=0 is scored at 1)
    temperature = cfg.temperature or 1.0
    g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
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
            planning_mask=ro.planning_mask[mb] if acfg.hicra_alpha > 0 else None)
        if not torch.isfinite(loss):
            raise error(f"non-finite loss at step {step}; lower --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        m["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip))
        opt.step()
        metrics.append(m)
    return {f"loss/{k}": float(np.mean([m[k] for m in metrics if k in m])) for k in metrics[0]}


def _world_logprobs(model, input_ids, attn_mask, mask, *, temperature=1.0):
    return sequence_logprobs(model, input_ids, attn_mask, None, mask, temperature=temperature)


def reward_metrics(ro, outs: list, rewards: torch.Tensor) -> dict:
    """What every RL trainer logs of a rollout batch: rewards, their components, the true correctness,
    lengths and the mean entropy of the completion tokens (ro: world Rollouts or an HF rollout)."""
    flat = [o for group in outs for o in group]
    m = {"reward/mean": float(rewards.mean()), "reward/std": float(rewards.std()) if rewards.numel() > 1 else 0.0,
         "correct/mean": float(np.mean([o.correct for o in flat])),  # shadow metric: true correctness
         "length/mean": float(ro.lengths.float().mean()), "length/truncated": float((~ro.finished).float().mean())}
    for name in flat[0].components:
        vals = [o.components[name] for o in flat if isinstance(o.components.get(name), (int, float, bool))]
        if vals:
            m[f"reward/{name}"] = float(np.mean(vals))
    m["entropy/all"] = _mean_entropy(ro.entropies, ro.completion_mask)
    return m


def _mean_entropy(entropies: torch.Tensor, mask: torch.Tensor) -> float:
    n = int(mask.sum())
    return float((entropies * mask).sum() / n) if n else float("nan")


def rollout_metrics(ro: Rollouts, outs: list, rewards: torch.Tensor) -> dict:
    """reward_metrics, plus the world's: entropy of planning and execution tokens, format shares."""
    m = reward_metrics(ro, outs, rewards)
    for key, mask in (("planning", ro.planning_mask), ("execution", ro.execution_mask)):
        m[f"entropy/{key}"] = _mean_entropy(ro.entropies, mask)
    parsed = [parse(t) for t in ro.texts]
    counts = Counter(p.format or "none" for p in parsed)
    for f in (*FORMATS, "none"):
        m[f"format/{f}"] = counts.get(f, 0) / len(parsed)
    m["format/well_formed"] = float(np.mean([p.well_formed for p in parsed]))
    return m


def evaluate_policy(model, problems: list[Problem], cfg: RLConfig, step: int) -> dict:
    """Greedy accuracy and accuracy at T=1 (n samples) on the fixed held-out set, with format shares."""
    return ev.policy_eval(model, problems, samples=cfg.eval_samples, max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)


# ------------------------------------------------------------------------------------------- loop
def train(cfg: RLConfig, out: str | Path, *, resume: bool = False, progress: bool = True, log=print) -> dict:
    out = Path(out)
    if (done := runs.finished_summary(out, resume, log)) is not None:
        return done
    acfg = cfg.algo_config()
    model, init_meta = load_model(cfg.init)
    model.train()
    ref_model = copy.deepcopy(model).eval() if acfg.kl_beta > 0 else None
    for p in ref_model.parameters() if ref_model else ():
        p.requires_grad_(False)
    out.mkdir(parents=True, exist_ok=True)
    runs.atomic_write_json(out / "config.json", {**asdict(cfg), "stage": "rl", "algo_resolved": asdict(acfg),
                                                 "code_version": runs.code_version()})
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0.0)
    meta = {**{k: v for k, v in init_meta.items() if k not in ("step", "code_version")}, "stage": "rl",
            "init": str(cfg.init)}
    metrics_log = runs.MetricsLog(out / "metrics.jsonl")
    start = 0
    ckpt = runs.latest_checkpoint(out) if resume else None
    if ckpt is not None:
        start = runs.restore(ckpt, model, opt)
        log(f"resuming {out} from step {start}")
    metrics_log.truncate_after(start if ckpt is not None else -1)
    data, labels = prepare_data(model, cfg, out, log)
    reward = make_reward(cfg.reward, labels=labels, seed=cfg.seed)
    eval_set = [p for d in ev.parse_difficulties(cfg.difficulty)
                for p in ev.test_problems(d, cfg.eval_problems, cfg.seed)]
    if ckpt is None:
        runs.save_checkpoint(out, 0, model, opt, meta, {"step": 0})
        metrics_log.append({"step": 0, **evaluate_policy(model, eval_set, cfg, 0)})
    tok, t_run = Tokenizer(), time.perf_counter()
    for step in range(start, cfg.steps):
        t0 = time.perf_counter()
        problems = data.prompts(step)  # ---- sample
        prompt_ids = [tok.encode(get_task().prompt(p), bos=True) for p in problems]
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        model.eval()
        ro = rollout(model, prompt_ids, group_size=cfg.group_size, max_new_tokens=cfg.max_new_tokens,
                     temperature=cfg.temperature, generator=gen, tokenizer=tok)
        model.train()
        rewards, outs = score(reward, problems, ro.texts, cfg, step)  # ---- score
        adv = algos.group_advantages(rewards, acfg)  # ---- advantages [P, G]
        keep = algos.dynamic_sampling_mask(rewards) if acfg.dynamic_sampling else torch.ones(len(problems), dtype=torch.bool)
        keep_rows = torch.nonzero(keep.repeat_interleave(cfg.group_size)).flatten()
        try:  # ---- update
            upd = update(model, opt, ro, adv.reshape(-1), keep_rows, acfg, cfg, step + 1, ref_model)
        except RLError as e:
            last = runs.latest_checkpoint(out)
            raise RLError(f"{e.args[0]}; stopped, last good checkpoint: {last}") from None
        row = {"step": step + 1, **rollout_metrics(ro, outs, rewards), **upd,
               **{f"adv/{k}": v for k, v in algos.advantage_metrics(rewards, adv).items()},
               "adv/groups_kept": float(keep.float().mean())}
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:  # ---- evaluate
            row.update(evaluate_policy(model, eval_set, cfg, step + 1))
        row["time/step_s"] = time.perf_counter() - t0
        metrics_log.append(row)  # ---- log
        if cfg.store_rollouts:
            _store_rollouts(out, step + 1, problems, ro, outs, adv, cfg)
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:  # ---- checkpoint
            runs.save_checkpoint(out, step + 1, model, opt, meta, {"step": step + 1})
        if progress:
            log(f"step {step + 1}/{cfg.steps} reward {row['reward/mean']:.3f} correct {row['correct/mean']:.3f} "
                f"clip {upd.get('loss/clip_frac', 0):.4f} {row['time/step_s']:.2f}s"
                + (f" | eval greedy {row['eval/acc_greedy']:.3f} t1 {row['eval/acc_t1']:.3f}" if "eval/acc_t1" in row else ""))
    runs.save_weights(out, model, {**meta, "step": cfg.steps})
    rows = metrics_log.read()
    first, last = rows[0], rows[-1]
    summary = {"stage": "rl", "steps": cfg.steps, "elapsed_s": time.perf_counter() - t_run, "resumed_from": start,
               **{f"{k}/before": first[k] for k in first if k.startswith("eval/")},
               **{f"{k}/after": last[k] for k in last if k.startswith("eval/")}}
    runs.atomic_write_json(out / "summary.json", summary)
    return summary


def _store_rollouts(out: Path, step: int, problems, ro: Rollouts, outs, adv, cfg: RLConfig) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    G = cfg.group_size
    flat = [o for group in outs for o in group]
    table = pa.table({
        "step": [step] * len(flat), "prompt_id": [i // G for i in range(len(flat))],
        "problem": [problems[i // G].expr for i in range(len(flat))], "completion": ro.texts,
        "reward": [o.score for o in flat], "correct": [o.correct for o in flat],
        "advantage": adv.reshape(-1).tolist(), "length": ro.lengths.tolist(),
        "components": [str(o.components) for o in flat],
    })
    d = out / "rollouts"
    d.mkdir(exist_ok=True)
    tmp = d / f".step_{step:06d}.parquet.tmp"
    pq.write_table(table, tmp)
    tmp.replace(d / f"step_{step:06d}.parquet")

