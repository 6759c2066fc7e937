"""What SFT does differently for the two kinds of model: a batcher builds and encodes the examples, turns the
(prompt ids, target ids) pairs of a step into model inputs, takes the loss, and evaluates.

    batcher = WorldBatcher(cfg, policy, log)     # the controlled world's tiny GPT on traces
    batcher = HFBatcher(cfg, policy, log)        # a Hugging Face causal LM on a math data file
    batch = batcher.batch(step)                  # the inputs of step `step`, a pure function of (seed, step)
    loss = batcher.loss(policy.model, batch)     # token-mean NLL of the target tokens

`priorlab.sft.loop.train` is written once over a batcher and a policy (`priorlab.rl.policies`). Both
batchers draw the examples of step s as slots s·B .. s·B+B−1 of a stream of per-epoch permutations
(`batch_indices`); each keeps the generator its permutations always came from (numpy for the world,
torch for HF), so a run draws the batches it always drew.

- `WorldBatcher`: examples from a traces file or world-rendered teacher traces (`priorlab.sft.traces`);
  `<bos>` + prompt + completion + `<eos>`, the GPT's own cross entropy on next-token targets with the
  prompt masked (-100); evaluation on held-out problems (greedy and T=1 accuracy, format shares).
- `HFBatcher`: (problem, solution) records of a data file, prompt = `prompts.render(problem, template)`,
  target = solution + EOS cut to `max_length` (cuts counted); the log-likelihood of the target tokens
  from `sequence_logprobs_hf`; no evaluation in the loop (`priorlab eval` does it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from priorlab.common import logs
from priorlab.common.seeds import derive
from priorlab.evals import world_eval as ev
from priorlab.math.data import Dataset
from priorlab.math.prompts import add_special_tokens, render
from priorlab.model.hf.generate import sequence_logprobs_hf
from priorlab.sft.traces import Example, load_traces, teacher_traces
from priorlab.world.tasks import Problem, get_task
from priorlab.world.tokenizer import Tokenizer

Pairs = list[tuple[list[int], list[int]]]  # (prompt ids, target ids) per example


# ------------------------------------------------------------------------------------------ batches
def batch_indices(n: int, step: int, batch_size: int, order: Callable[[int, int], Any]) -> list[int]:
    """Example indices of step `step`: slots step·B .. step·B+B−1 of a stream of per-epoch permutations.

    order(epoch, n) -> a permutation of range(n) (`numpy_permutation` or `torch_permutation` with the
    seed bound). A pure function of its arguments: every example is seen once per epoch, and a resumed
    run draws exactly the batches an uninterrupted one would.
    """
    out, perms = [], {}
    for i in range(step * batch_size, (step + 1) * batch_size):
        epoch = i // n
        if epoch not in perms:
            perms[epoch] = order(epoch, n)
        out.append(int(perms[epoch][i % n]))
    return out


def numpy_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The world's epoch order: numpy's default_rng seeded with [seed, epoch, 0x5F7]."""
    return np.random.default_rng([seed, epoch, 0x5F7]).permutation(n)


def torch_permutation(seed: int, epoch: int, n: int) -> torch.Tensor:
    """The HF path's epoch order: torch.randperm with a generator seeded by derive(seed, "epoch", epoch)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(derive(seed, "epoch", epoch)))


# ------------------------------------------------------------------------------------ the world

def evaluate_policy(model, problems: list[Problem], *, samples: int, max_new_tokens: int, seed: int) -> dict:
    """`priorlab.evals.world_eval.policy_eval` (the keys every training stage logs under eval/)."""
    return ev.policy_eval(model, problems, samples=samples, max_new_tokens=max_new_tokens, seed=seed)


def load_examples(cfg, block_size: int, log) -> tuple[list[Example], dict]:
    """The training examples and what the run records about them (source, counts, skipped lines)."""
    if cfg.teacher_format:
        ex = teacher_traces(cfg.teacher_format, cfg.difficulty, cfg.problems, cfg.seed)
        return ex, {"source": f"teacher:{cfg.teacher_format}", "examples": len(ex)}
    ex, skipped, first = load_traces(cfg.traces, skip_bad_lines=cfg.skip_bad_lines, block_size=block_size)
    if skipped:
        log(f"skipped {skipped} malformed line(s) of {cfg.traces}; first: {first}")
    n_test = sum(e.problem.split == "test" for e in ex)
    if n_test:
        log(f"warning: {n_test} trace(s) of {cfg.traces} are test-split problems, which evaluation uses")
    return ex, {"source": "traces", "examples": len(ex), "skipped_lines": skipped, "test_split_examples": n_test,
                "traces_sha256": hashlib.sha256(Path(cfg.traces).read_bytes()).hexdigest()}


def encode(examples: list[Example], tok: Tokenizer) -> Pairs:
    """Examples -> (prompt ids with <bos>, completion ids with <eos>)."""
    task = get_task()
    return [(tok.encode(task.prompt(e.problem), bos=True), tok.encode(e.completion, eos=True)) for e in examples]


class WorldBatcher:
    """The tiny GPT on traces: next-token inputs and targets, the prompt masked; held-out evaluation."""

    progress_every = 1  # a progress line per step, with the evaluation when there is one

    def __init__(self, cfg, policy, log=None):
        log = logs.to(log, __name__)
        self.cfg, self.pad_id = cfg, policy.tok.pad_id
        examples, self.data = load_examples(cfg, policy.model.cfg.block_size, log)
        self.pairs = encode(examples, policy.tok)
        self.eval_set = ev.problem_set(cfg.eval_difficulty, cfg.eval_problems, cfg.seed)

    @property
    def record(self) -> dict:
        """What config.json records beyond the config: the examples (so a resume on other data is refused)."""
        return {"data": self.data}

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Step `step`'s batch: examples drawn by the seeded permutation, collated with the prompt masked."""
        idx = batch_indices(len(self.pairs), step, self.cfg.batch_size, partial(numpy_permutation, self.cfg.seed))
        return self.collate([self.pairs[i] for i in idx], self.pad_id)

    @staticmethod
    def collate(pairs: Pairs, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded inputs and targets for next-token prediction with the prompt masked.

        pairs: (prompt ids, completion ids) -> x, y [B, T] long, T = longest prompt + completion − 1.
        y[b, t] = the token after x[b, t] when that token is a completion token, else -100 (prompt, padding).
        Right padding keeps every real token at its unpadded position, so no attention mask is needed.
        """
        T = max(len(p) + len(c) for p, c in pairs) - 1
        x = torch.full((len(pairs), T), pad_id, dtype=torch.long)
        y = torch.full((len(pairs), T), -100, dtype=torch.long)
        for b, (p, c) in enumerate(pairs):
            seq = p + c
            x[b, : len(seq) - 1] = torch.tensor(seq[:-1])
            y[b, len(p) - 1 : len(seq) - 1] = torch.tensor(c)
        return x, y

    @staticmethod
    def loss(model, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """The GPT's cross entropy: the token mean over completion targets (y != -100), `<eos>` included."""
        _, loss = model(*batch)
        return loss

    @staticmethod
    def metrics(batch: tuple[torch.Tensor, ...]) -> dict:
        """The batch's completion-token count."""
        return {"tokens/completion": int((batch[1] != -100).sum())}

    def evaluate(self, model) -> dict:
        """Greedy and T=1 accuracy with format shares on the held-out problems."""
        return evaluate_policy(model, self.eval_set, samples=self.cfg.eval_samples,
                               max_new_tokens=self.cfg.max_new_tokens, seed=self.cfg.seed)

    def summary(self, rows: list[dict]) -> dict:
        """The mean SFT loss of the last ten logged steps and the data record."""
        losses = [r["loss/sft"] for r in rows if "loss/sft" in r]
        return {"loss/sft": float(np.mean(losses[-10:])) if losses else None, "data": self.data}


# ------------------------------------------------------------------------- Hugging Face models
def encode_records(lm, ds: Dataset, template: str, max_length: int) -> tuple[Pairs, int]:
    """(prompt ids, target ids + EOS) per record, cut to max_length; and how many targets were cut.

    A sequence longer than max_length keeps its prompt and loses the end of its target; a prompt that
    leaves no room for a target token is an error naming the record.
    """
    missing = [ex.line for ex in ds.examples if ex.solution is None]
    if missing:
        raise ValueError(f"{ds.path}: {len(missing)} record(s) have no solution field {ds.fields['solution']!r} "
                         f"(first at line {missing[0]}); name it with --solution-field")
    pairs, cut = [], 0
    special = add_special_tokens(template)
    for ex in ds.examples:
        prompt = lm.tokenizer(render(ex.question, template, lm.tokenizer), add_special_tokens=special)["input_ids"]
        target = lm.tokenizer(ex.solution, add_special_tokens=False)["input_ids"] + [lm.eos_id]
        room = max_length - len(prompt)
        if room < 1:
            raise ValueError(f"{ds.path} line {ex.line}: the prompt alone has {len(prompt)} tokens, more than "
                             f"--max-length {max_length}")
        cut += len(target) > room
        pairs.append((prompt, target[:room]))
    return pairs, cut


class HFBatcher:
    """A Hugging Face causal LM on (problem, solution) records: whole sequences with an attention mask and
    a target mask; the loss from the model's log-likelihood of the target tokens."""

    progress_every = 10  # a progress line every 10 steps (and the last)

    def __init__(self, cfg, policy, log=None):
        log = logs.to(log, __name__)
        self.cfg, self.pad_id = cfg, policy.lm.pad_id
        self.ds = cfg.data.load(log)
        self.pairs, self.truncated = encode_records(policy.lm, self.ds, cfg.template, cfg.max_length)

    @property
    def record(self) -> dict:
        """Nothing beyond the config: config.json holds the data file's options already."""
        return {}  # config.json holds the data file's options (cfg.data) already

    def batch(self, step: int) -> tuple[torch.Tensor, ...]:
        """Step `step`'s batch: records drawn by the seeded permutation, collated with target masks."""
        idx = batch_indices(len(self.pairs), step, self.cfg.batch_size, partial(torch_permutation, self.cfg.seed))
        return self.collate([self.pairs[i] for i in idx], self.pad_id)

    @staticmethod
    def collate(pairs: Pairs, pad_id: int) -> tuple[torch.Tensor, ...]:
        """input_ids [B, T] (right-padded), attn_mask [B, T], target_mask [B, T] (True on target tokens)."""
        T = max(len(p) + len(t) for p, t in pairs)
        ids = torch.full((len(pairs), T), pad_id, dtype=torch.long)
        attn = torch.zeros(len(pairs), T, dtype=torch.bool)
        target = torch.zeros(len(pairs), T, dtype=torch.bool)
        for b, (p, t) in enumerate(pairs):
            ids[b, :len(p) + len(t)] = torch.tensor(p + t)
            attn[b, :len(p) + len(t)] = True
            target[b, len(p):len(p) + len(t)] = True
        return ids, attn, target

    @staticmethod
    def loss(model, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Token-mean NLL of the target tokens over the batch (each predicted from the position before it):

            loss = -(1 / sum_b |target_b|) * sum_b sum_{t in target_b} log p(x_t | x_<t)
        """
        ids, attn, target = batch
        logp, _ = sequence_logprobs_hf(model, ids, attn, target)
        return -logp.sum() / target[:, 1:].sum().clamp(min=1)

    @staticmethod
    def metrics(batch) -> dict:
        """No per-batch metrics beyond the loss."""
        return {}

    @staticmethod
    def evaluate(model) -> dict:
        """No held-out evaluation for HF SFT (grade or eval the saved model instead)."""
        return {}

    def summary(self, rows: list[dict]) -> dict:
        """The data file, examples, skipped and truncated records, and the loss at the first and last step."""
        return {"data": {"path": self.ds.path, "examples": len(self.pairs), "skipped_records": len(self.ds.skipped),
                         "truncated": self.truncated},
                "loss/sft/first": rows[0]["loss/sft"] if rows else None,
                "loss/sft/last": rows[-1]["loss/sft"] if rows else None}
