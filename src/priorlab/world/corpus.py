"""Pretraining corpus: documents drawn from a mixture, as a packed token stream.

A document is `<bos>Q: 3+5-2=?\\n<completion><eos>`. The corpus is a pure function of (mixture, seed):
the same arguments give the same documents, and only train-split problems are used, so the test split
stays unseen -- unless the mixture contaminates it on purpose (`world.contamination`: chosen held-out
problems and their answers, spread through the regular documents).

    corpus = build_corpus(load_mixture("code-prior"), seed=0)
    corpus.tokens, corpus.starts        # uint8 stream, start offset of every document
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import numpy as np

from priorlab.world.classes import in_class
from priorlab.world.contamination import Contamination, contaminated_problems
from priorlab.world.contamination import document as contamination_document
from priorlab.world.formats import Style, trace
from priorlab.world.mixtures import Mixture
from priorlab.world.tasks import Difficulty, Problem, Task, get_task
from priorlab.world.tokenizer import Tokenizer


def difficulties(mix: Mixture) -> tuple[list[Difficulty], list[float]]:
    """A mixture's difficulties and their weights, in the mixture's order."""
    keys = list(mix.difficulty)
    diffs = [Difficulty.from_key(k) for k in keys]
    return diffs, [mix.difficulty[k] for k in keys]


def correct_probability(problem: Problem, fmt: str, mix: Mixture) -> float:
    """P(a document of `fmt` for `problem` is correct) under the corpus noise: the calibrated confidence."""
    spec = mix.formats[fmt]
    p = 1.0 - spec.corrupt
    if spec.misconception:
        triggered = trace(problem.operands, problem.ops, Style(fmt, misconception=spec.misconception))[-1][2] != problem.answer
        p *= 1.0 - spec.misconception_rate * triggered
    if spec.fails_on and in_class(problem, spec.fails_on):
        p *= 1.0 - spec.fails_on_rate
    return p


def sample_style(rng: random.Random, problem: Problem, mix: Mixture) -> Style:
    """Draw how one document of the corpus writes its solution."""
    fmts = list(mix.formats)
    fmt = rng.choices(fmts, weights=[mix.formats[f].share for f in fmts])[0]
    spec = mix.formats[fmt]
    n_steps = len(problem.operands) - 1
    shortcut = None
    if rng.random() < mix.shortcut:
        shortcut = rng.choice(("operand", "skip"))
    coarse = fmt == "nl" and rng.random() < mix.coarse
    corrupt_step, delta = None, 0
    if rng.random() < spec.corrupt:
        n_chunks = (n_steps + 1) // 2 if coarse else n_steps
        corrupt_step = rng.randrange(max(1, n_chunks)) if fmt != "direct" else 0
        delta = rng.choice((-3, -2, -1, 1, 2, 3))
    mis = spec.misconception if (spec.misconception and rng.random() < spec.misconception_rate) else None
    conf = None
    if rng.random() < mix.confidence:
        if mix.confidence_mode == "calibrated":
            p = correct_probability(problem, fmt, mix)
            conf = min(10, max(0, round(10 * p)))
        elif mix.confidence_mode == "overconfident":
            conf = 10
        else:
            conf = rng.randint(0, 10)
    style = Style(
        format=fmt, order="pos_first" if rng.random() < mix.pos_first else "ltr", coarse=coarse,
        check=rng.random() < mix.check, conf=conf, corrupt_step=corrupt_step, corrupt_delta=delta,
        misconception=mis, shortcut=shortcut,
    )
    # drawn last, and only where the format has an affinity rule, so mixtures without one are unchanged
    if spec.fails_on and in_class(problem, spec.fails_on) and rng.random() < spec.fails_on_rate:
        style = replace(style, class_error=True)
    # likewise only when the mixture has self-correction: which step is written wrong first, and by how much
    if mix.self_correct and fmt != "direct" and shortcut != "operand" and rng.random() < mix.self_correct:
        written = len(trace(problem.operands, problem.ops, style))
        style = replace(style, correct_step=rng.randrange(written), correct_delta=rng.choice((-3, -2, -1, 1, 2, 3)))
    return style


def documents(mix: Mixture, seed: int, n: int | None = None, task: Task | None = None):
    """Yield (problem, style, text) for the first `n` (default: all) documents of the corpus."""
    task = task or get_task()
    rng = random.Random(f"corpus:{seed}")
    diffs, weights = difficulties(mix)
    total = mix.documents if n is None else n
    spec = mix.contaminate if n is None else None  # a prefix (`n`) is the regular documents only
    copies: dict[int, list[tuple[Problem, str]]] = {}
    if spec is not None:
        copies = {i: [(p, contamination_document(p, spec)) for p in ps]
                  for i, ps in contamination_slots(spec, diffs, total, seed).items()}
    copy_style = Style("direct" if spec is None or spec.form == "answer" else spec.solution_format)
    for i in range(total):
        for problem, text in copies.get(i, ()):  # held-out problems with their answers, spread through the corpus
            yield problem, copy_style, text
        diff = rng.choices(diffs, weights=weights)[0]
        problem = task.generate(rng, diff, split="train")
        style = sample_style(rng, problem, mix)
        yield problem, style, task.prompt(problem) + task.render(problem, style)


def contamination_slots(spec: Contamination, diffs: list[Difficulty], total: int, seed: int) -> dict[int, list[Problem]]:
    """Where each contaminating copy goes: {i: the copies written just before regular document i}.

    The `repeats` copies of every contaminated problem are shuffled and put before regular documents drawn
    uniformly, with a generator of their own (the regular documents are those of the clean mixture). Spread,
    not in a block: pretraining rows are 128-token windows from a document start, so copies side by side
    would put a problem's answer in the context of its own next copies, and a model would learn to copy it
    from the context instead of memorising it (a block of x16 and even x256 answer-only copies left the held-
    out accuracy on contaminated problems within 6 points of the clean ones', direct answers included).
    """
    rng = random.Random(f"contaminate:{seed}")
    copies = [p for p in contaminated_problems(spec, diffs) for _ in range(spec.repeats)]
    rng.shuffle(copies)
    slots: dict[int, list[Problem]] = {}
    for problem in copies:
        slots.setdefault(rng.randrange(total), []).append(problem)
    return slots


@dataclass
class Corpus:
    tokens: np.ndarray  # [N] uint8 token ids, documents back to back
    starts: np.ndarray  # [D] int64 offset of each document's <bos>

    @property
    def n_tokens(self) -> int:
        """Tokens in the stream."""
        return int(self.tokens.shape[0])


def build_corpus(mix: Mixture, seed: int, tokenizer: Tokenizer | None = None) -> Corpus:
    """Every document of the corpus (`documents`) encoded with <bos> and <eos>, back to back in one uint8 stream."""
    tok = tokenizer or Tokenizer()
    ids: list[int] = []
    starts: list[int] = []
    for _, _, text in documents(mix, seed):
        starts.append(len(ids))
        ids.extend(tok.encode(text, bos=True, eos=True))
    return Corpus(np.asarray(ids, dtype=np.uint8), np.asarray(starts, dtype=np.int64))
