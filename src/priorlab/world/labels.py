"""Token labels of the world: which generated token plans and which executes.

    token_labels([ids...], "Think: 3+5=8. A: 8")   # -> "pppppp..." one code per token

The world's grammar (`world.formats.parse`) labels every character of a completion `p` planning (markers,
confidence, the operator+operand that choose what to compute next), `e` execution (running values, results,
the answer), `o` other (spacing, punctuation) or `u` unparsed. Under the character tokenizer one token is one
character, so the i-th non-special generated token carries the i-th character's label; a special token
(`<eos>`, a stray `<bos>`/`<pad>`) has no character and gets `s`. The rollouts (HICRA's planning-token credit,
planning/execution entropy during RL) and the evaluation's entropy by token type both read this one rule.
"""

from __future__ import annotations

from collections.abc import Sequence

from priorlab.world.formats import parse
from priorlab.world.tokenizer import SPECIALS

PLANNING, EXECUTION, OTHER, UNPARSED, SPECIAL = "p", "e", "o", "u", "s"


def token_labels(token_ids: Sequence[int], text: str) -> str:
    """One label code per generated token (eos included): its character's grammar label, `s` for specials.

    text is the decoding of token_ids (specials dropped)."""
    labels = [SPECIAL] * len(token_ids)
    char_pos = [j for j, i in enumerate(token_ids) if int(i) >= len(SPECIALS)][: len(text)]
    for j, lab in zip(char_pos, parse(text).labels):
        labels[j] = lab
    return "".join(labels)
