"""Supervised Reinforcement Learning (SRL): RL on expert steps, rewarded by similarity to the expert.

    priorlab srl --init runs/pt --expert-format code --steps 60 --out runs/srl
    priorlab rl --init runs/srl --reward correct --steps 60 --out runs/srl-rl      # SRL, then RLVR

After Deng et al. 2025, "Supervised Reinforcement Learning: From Expert Trajectories to Step-wise
Reasoning" (arXiv 2510.25992). An expert solution (the world's gold trace in
`--expert-format`) is split into steps y_1..y_N (`split_steps`). For a (problem, k) pair the prompt is the
problem's prompt followed by y_1..y_{k−1} as a completion prefix; the policy writes the next step and
is rewarded with difflib.SequenceMatcher(None, generated, y_k).ratio() = 2M / (len(a) + len(b)), M the
characters in matching blocks. G samples of the same (problem, k) prompt form a GRPO group
(`priorlab.rl.algos`), sampled with `priorlab.rl.rollout.rollout`.

Step units (`split_steps`; the pieces concatenate back to the completion exactly):
- nl:   `Think: 3+5=8.` (the marker and the first step) | ` 8-2=6.` (each following step)
- code: `Code: x=3; x+=5 #8;` (marker, initialisation and first operation) | ` x-=2 #6;` (each following)
- every later line is one step with its leading newline: `\\nCheck: 3+5-2=6.`, `\\nConf: 7`, `\\nA: 6`;
  `direct` is the single step `A: 6`.
In general: a step ends right after a `.` or `;` (a code initialisation `x=N;` joins the operation after
it), a line starting with a newline is one step up to the next newline, and text without a terminator
is one step. The same rule cuts the policy's continuation: the generated step is the first unit of the
sampled text, the tokens after it are not scored, and `<eos>` is scored when the step ends there.

How this departs from the paper: there is no free-form `<think>` monologue before the action (the tiny
world has none), so the whole generated step is the action; one k is drawn per problem and step rather
than every k of every solution; malformed outputs get the similarity like any other (the paper's −1
for them is unverified); dynamic filtering of all-equal groups is the `dapo` preset's option, not the
default. The result is an ordinary run directory (`load_model` reads it), the `--init` of `priorlab rl`.
"""

from __future__ import annotations

import difflib
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from priorlab.common import config, logs
from priorlab.common.config import RL_ADAM, AdamWConfig
from priorlab.evals import world_eval as ev
from priorlab.model.completions import Rollouts
from priorlab.model.sampling import sample
from priorlab.rl import algos
from priorlab.rl import loop as rl
from priorlab.rl.envs import mean_entropy
from priorlab.rl.policies import WorldPolicy
from priorlab.rl.rewards import RewardOutput
from priorlab.sft.batchers import evaluate_policy
from priorlab.world.formats import FORMATS, Style
from priorlab.world.tasks import RL_DIFFICULTY, Problem, get_task, parse_difficulties
from priorlab.world.tokenizer import SPECIALS, Tokenizer

_CODE_INIT = re.compile(r"(?:Code: )?x=-?\d+;")


@dataclass(frozen=True)
class SRLConfig:
    init: str = ""
    expert_format: str = "code"  # the format of the expert solutions: nl | code | direct
    algo: str = "grpo"  # an algos preset whose reward map accepts a similarity in [0, 1]
    steps: int = 60
    seed: int = 0
    prompts_per_step: int = 16  # P (problem, k) prompts per step
    group_size: int = 8  # G samples of each
    minibatches: int = 4
    epochs: int = 1
    lr: float = 3e-5
    grad_clip: float = 1.0
    temperature: float = 1.0
    top_p: float = 1.0
    step_max_tokens: int = 32  # tokens sampled per step; the longest world step is ~30 characters
    difficulty: str = RL_DIFFICULTY
    eval_every: int = 20
    eval_problems: int = 100
    eval_samples: int = 4
    max_new_tokens: int = 96  # whole-solution evaluation samples
    ckpt_every: int = 20
    adam: AdamWConfig = field(default_factory=lambda: RL_ADAM)

    def __post_init__(self) -> None:
        config.require_finite(self)
        config.require_positive(self, (
            "steps", "prompts_per_step", "group_size", "minibatches", "epochs", "step_max_tokens", "eval_every",
            "eval_problems", "eval_samples", "max_new_tokens", "ckpt_every"))
        if self.expert_format not in FORMATS:
            raise ValueError(f"--expert-format {self.expert_format!r}: valid: {', '.join(FORMATS)}")
        if self.minibatches > self.prompts_per_step * self.group_size:
            raise ValueError("--minibatches cannot exceed prompts-per-step x group-size")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if self.temperature <= 0:
            raise ValueError(f"--temperature must be > 0 for SRL's sampled groups, got {self.temperature}")
        parse_difficulties(self.difficulty)
        self.algo_config()

    def algo_config(self) -> algos.AlgoConfig:
        """The policy-loss settings of the RL loop's update: the `algo` preset with `overrides`."""
        acfg = algos.resolve_for_budget(self.algo, max_new_tokens=self.step_max_tokens)
        if acfg.reward_map != "identity":
            raise ValueError(f"--algo {self.algo}: its reward map {acfg.reward_map!r} needs 0/1 correctness, "
                             "and SRL's reward is a similarity in [0, 1]")
        if acfg.hicra_alpha > 0 or acfg.kl_beta > 0:
            raise ValueError(f"--algo {self.algo}: HICRA and KL terms are not supported by SRL")
        return acfg


# ----------------------------------------------------------------------------------- step units
def step_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the steps of a completion (see the module docstring)."""
    spans, pos = [], 0
    while pos < len(text):
        if text[pos] == "\n":
            nxt = text.find("\n", pos + 1)
            end = len(text) if nxt < 0 else nxt
        else:
            end = pos
            while True:
                hits = [i for i in (text.find(c, end) for c in ".;\n") if i >= 0]
                if not hits:
                    end = len(text)
                    break
                i = min(hits)
                if text[i] == "\n":  # a line ends without a terminator: the step stops before the newline
                    end = i
                    break
                end = i + 1
                if not (text[i] == ";" and _CODE_INIT.fullmatch(text, pos, end)):
                    break  # a code initialisation `x=N;` joins the operation that follows it
        spans.append((pos, end))
        pos = end
    return spans


def split_steps(completion: str) -> list[str]:
    """A completion -> its steps; "".join(split_steps(c)) == c."""
    return [completion[s:e] for s, e in step_spans(completion)]


def expert_steps(problem: Problem, fmt: str) -> list[str]:
    """The gold solution of `problem` in `fmt` (canonical style: left to right, no check), as steps."""
    return split_steps(get_task().render(problem, Style(fmt)))


def step_reward(generated: str, expert: str) -> RewardOutput:
    """SequenceMatcher(None, generated, expert).ratio() = 2M / (len(generated) + len(expert)).

    `correct` (the shadow metric) is an exact match of the step.
    """
    ratio = difflib.SequenceMatcher(None, generated, expert).ratio()
    return RewardOutput(score=ratio, components={"similarity": ratio, "exact": float(generated == expert)},
                        correct=generated == expert)


def cut_first_step(tokens: list[int], finished: bool, tok: Tokenizer) -> tuple[str, int]:
    """The first step of a sampled continuation: (its text, how many of `tokens` it spans).

    tokens are the generated ids (eos included when `finished`). Characters map one to one onto
    non-special tokens. The step includes `<eos>` when it runs to the end of a finished continuation
    (the stop is part of the action); an empty continuation (immediate eos) spans its one eos token.
    """
    text = tok.decode(tokens)
    spans = step_spans(text)
    if not spans:
        return "", min(1, len(tokens))
    end = spans[0][1]
    if end == len(text):
        return text, len(tokens)
    char_pos = [j for j, i in enumerate(tokens) if i >= len(SPECIALS)]
    return text[:end], char_pos[end - 1] + 1


# ------------------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class StepPrompt:
    problem: Problem
    k: int  # 1-based index of the step to write
    steps: tuple[str, ...]  # the expert's steps

    @property
    def prefix(self) -> str:
        """The expert's steps before step k: what the prompt already contains."""
        return "".join(self.steps[: self.k - 1])

    @property
    def target(self) -> str:
        """The expert's step k: what the completion's first step is compared with."""
        return self.steps[self.k - 1]


def step_prompts(n: int, cfg: SRLConfig, rng: random.Random) -> list[StepPrompt]:
    """n (problem, k) prompts: a train-split problem at `difficulty` and k uniform over its steps."""
    task, diffs, out = get_task(), parse_difficulties(cfg.difficulty), []
    for _ in range(n):
        p = task.generate(rng, rng.choice(diffs), split="train")
        steps = tuple(expert_steps(p, cfg.expert_format))
        out.append(StepPrompt(p, rng.randint(1, len(steps)), steps))
    return out


def prompt_ids(sp: StepPrompt, tok: Tokenizer) -> list[int]:
    """The ids of a step prompt: the task prompt and the expert's first k - 1 steps, after <bos>."""
    return tok.encode(get_task().prompt(sp.problem) + sp.prefix, bos=True)


# --------------------------------------------------------------------------------------- stages
def score(ro: Rollouts, prompts: list[StepPrompt], G: int, tok: Tokenizer) -> tuple[torch.Tensor, torch.Tensor, list]:
    """Cut each sample at its first step and score it: rewards [P, G], step_mask [B, T], outputs."""
    step_mask = torch.zeros_like(ro.completion_mask)
    outs = []
    for b in range(len(ro.texts)):
        cols = torch.nonzero(ro.completion_mask[b]).flatten()
        text, n = cut_first_step(ro.input_ids[b, cols].tolist(), bool(ro.finished[b]), tok)
        step_mask[b, cols[:n]] = True
        outs.append((text, step_reward(text, prompts[b // G].target)))
    rewards = torch.tensor([o.score for _, o in outs], dtype=torch.float32).view(len(prompts), G)
    return rewards, step_mask, outs


def step_metrics(ro: Rollouts, step_mask: torch.Tensor, prompts: list[StepPrompt], outs: list,
                 rewards: torch.Tensor) -> dict:
    """One SRL step's metrics: step-similarity rewards, exact-step share, the step index k, step length and entropy."""
    return {
        "reward/mean": float(rewards.mean()), "reward/std": float(rewards.std()) if rewards.numel() > 1 else 0.0,
        "reward/exact": float(np.mean([o.components["exact"] for _, o in outs])),
        "srl/k_mean": float(np.mean([sp.k for sp in prompts])),
        "srl/last_step_share": float(np.mean([sp.k == len(sp.steps) for sp in prompts])),
        "length/step_mean": float(np.mean([len(t) for t, _ in outs])),
        "entropy/step": mean_entropy(ro.entropies, step_mask),
    }


@torch.no_grad()
def step_similarity(model, problems: list[Problem], cfg: SRLConfig, tok: Tokenizer) -> dict:
    """Greedy next-step similarity on held-out problems, every k of every expert solution."""
    was_training = model.training
    model.eval()
    prompts = [StepPrompt(p, k, tuple(s)) for p in problems for s in [expert_steps(p, cfg.expert_format)]
               for k in range(1, len(s) + 1)]
    s = sample(model, [prompt_ids(sp, tok) for sp in prompts], max_new_tokens=cfg.step_max_tokens,
               eos_id=tok.eos_id, pad_id=tok.pad_id, temperature=0.0)
    sims = [step_reward(cut_first_step(s.tokens[b, : int(s.lengths[b])].tolist(), bool(s.finished[b]), tok)[0],
                        sp.target) for b, sp in enumerate(prompts)]
    model.train(was_training)
    return {"eval/step_similarity": float(np.mean([r.score for r in sims])),
            "eval/step_exact": float(np.mean([r.correct for r in sims]))}


class SRLEnv:
    """SRL as an environment of the RL loop (`rl.loop.train`): prompts are (problem, step k) prefixes of
    expert solutions, a completion is cut at its first step and scored by its similarity to the expert's
    step k, and the loss is over that first step's tokens only (the score mask). Evaluation: whole-solution
    accuracy and greedy next-step similarity on held-out problems."""

    def __init__(self, cfg: SRLConfig, tok: Tokenizer | None = None):
        self.cfg, self.tok = cfg, tok or Tokenizer()
        self.model = None

    @property
    def rollout_tokens(self) -> int:
        """The sampling budget of one completion: one step (`step_max_tokens`)."""
        return self.cfg.step_max_tokens

    def prepare(self, policy, out: Path, log) -> None:
        """Keep the policy's model and fix the held-out evaluation problems."""
        self.model = policy.model
        self.eval_set = ev.problem_set(self.cfg.difficulty, self.cfg.eval_problems, self.cfg.seed)

    def prompts(self, step: int) -> list[StepPrompt]:
        """Fresh (problem, step k) prompts for step `step`, seeded by the step."""
        return step_prompts(self.cfg.prompts_per_step, self.cfg, random.Random(f"srl-prompts:{self.cfg.seed}:{step}"))

    def prompt_ids(self, prompts: list[StepPrompt]) -> list[list[int]]:
        """The step prompts as token ids."""
        return [prompt_ids(sp, self.tok) for sp in prompts]

    def score(self, prompts: list[StepPrompt], ro: Rollouts, step: int) -> tuple[torch.Tensor, list, torch.Tensor]:
        """Similarity rewards [P, G], the outputs, and the mask of each completion's first step (the loss is over
        it)."""
        rewards, step_mask, outs = score(ro, prompts, self.cfg.group_size, self.tok)
        return rewards, outs, step_mask

    def metrics(self, prompts: list[StepPrompt], ro: Rollouts, outs: list, rewards: torch.Tensor,
                step_mask: torch.Tensor | None) -> dict:
        """`step_metrics` of the batch."""
        assert step_mask is not None  # `score` always returns the first-step mask
        return step_metrics(ro, step_mask, prompts, outs, rewards)

    def evaluate(self, step: int) -> dict:
        """Whole-solution accuracy (greedy and T=1) and greedy next-step similarity on the held-out problems."""
        cfg = self.cfg
        return {**evaluate_policy(self.model, self.eval_set, samples=cfg.eval_samples, max_new_tokens=cfg.max_new_tokens,
                                  seed=cfg.seed), **step_similarity(self.model, self.eval_set, cfg, self.tok)}

    def progress(self, row: dict) -> str:
        """One step's progress line: similarity, exact steps, time, and the evaluation when it ran."""
        return (f"similarity {row['reward/mean']:.3f} exact {row['reward/exact']:.3f} {row['time/step_s']:.2f}s"
                + (f" | eval step similarity {row['eval/step_similarity']:.3f} greedy acc {row['eval/acc_greedy']:.3f}"
                   if "eval/acc_greedy" in row else ""))

    def problem_id(self, prompt: StepPrompt) -> str:
        """`<expr>#<k>`: the problem and the step the prompt asks for."""
        return f"{prompt.problem.expr}#{prompt.k}"

    def close(self) -> None:
        """Nothing to release."""
        pass


# ------------------------------------------------------------------------------------------- loop
def train(cfg: SRLConfig, out: str | Path, *, resume: bool = False, progress: bool = True, log=None) -> dict:
    """SRL from `cfg.init`: the RL loop (`rl.loop.train`) with `SRLEnv`; `out` ends up a finished run
    directory (an `--init` for `priorlab rl`). Returns the summary."""
    log = logs.to(log, __name__)
    return rl.train(cfg, out, env=SRLEnv(cfg), policy=WorldPolicy.load(cfg.init, stage="srl"), stage="srl",
                    resume=resume, progress=progress, log=log)
