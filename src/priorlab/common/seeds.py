"""Every random stream of a run derives its seed from the run seed with one function, `derive`.

    gen = torch.Generator().manual_seed(derive(cfg.seed, "step", step))   # rollouts / mini-batch order of a step
    ecfg_seed = derive(cfg.seed, "eval")                                  # the evaluation's samples

Two shapes, fixed so that runs stay bitwise reproducible across versions:
- a purpose without an index is the run seed plus a fixed prime offset (`OFFSETS`), so the stream differs
  from the run's own (e.g. the base-model samples behind the `incorrect` labels, seed + 7919);
- an indexed purpose (`INDEXED`: RL step, SFT epoch, generation chunk) is seed · 1,000,003 + index, so
  (seed, index) pairs never collide for indices below 1,000,003.
String-seeded streams (`random.Random(f"rl-prompts:{seed}:{step}")`) need no derivation and are not here.
"""

from __future__ import annotations

STRIDE = 1_000_003  # a prime above any step / epoch / chunk index a run reaches
OFFSETS = {
    "base-samples": 7919,  # base-model samples: `incorrect` labels, the one-shot example's pass rate
    "eval": 104729,  # evaluation samples during and after training
}
INDEXED = ("step", "epoch", "chunk")  # an RL / SRL step, an SFT epoch, a generation chunk


def derive(seed: int, purpose: str, *idx: int) -> int:
    """The seed of stream `purpose` (with its index, for indexed purposes) of a run with seed `seed`."""
    if purpose in OFFSETS:
        if idx:
            raise ValueError(f"seed purpose {purpose!r} takes no index, got {idx}")
        return seed + OFFSETS[purpose]
    if purpose in INDEXED:
        if len(idx) != 1:
            raise ValueError(f"seed purpose {purpose!r} takes one index, got {idx}")
        return seed * STRIDE + idx[0]
    raise ValueError(f"unknown seed purpose {purpose!r}; valid: {', '.join([*OFFSETS, *INDEXED])}")
