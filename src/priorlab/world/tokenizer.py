"""Character-level tokenizer with one fixed, versioned vocabulary.

The vocabulary never depends on data, so every checkpoint trained with `VOCAB_VERSION` can read every
corpus of the world. Ids 0..2 are the specials; `<pad>` is distinct from `<eos>` so the stop action
keeps its gradient (with pad = eos, masks built from `ids != pad` would drop the stop token).

    >>> tok = Tokenizer()
    >>> tok.decode(tok.encode("Q: 1+2=?"))
    'Q: 1+2=?'
"""

from __future__ import annotations

VOCAB_VERSION = "char-v1"
PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
SPECIALS = (PAD, BOS, EOS)
# Every character the world can render, plus the rest of the printable ASCII letters so that a user's
# own task can reuse the vocabulary. Changing this string is a new VOCAB_VERSION.
CHARS = "0123456789+-*=?:;.,#()<>/ \nABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Tokenizer:
    """Maps text <-> ids. Unknown characters raise a ValueError that names them."""

    version = VOCAB_VERSION

    def __init__(self) -> None:
        self.itos: list[str] = list(SPECIALS) + list(CHARS)
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}
        self.pad_id, self.bos_id, self.eos_id = (self.stoi[s] for s in SPECIALS)

    @property
    def vocab_size(self) -> int:
        """Specials plus characters: the model's embedding rows."""
        return len(self.itos)

    def encode(self, text: str, *, bos: bool = False, eos: bool = False) -> list[int]:
        """Text as ids (optionally with <bos> first and <eos> last); an unknown character raises ValueError naming
        it."""
        try:
            ids = [self.stoi[c] for c in text]
        except KeyError as e:
            raise ValueError(f"character {e.args[0]!r} is not in vocabulary {VOCAB_VERSION}") from None
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids, *, stop_at_eos: bool = True) -> str:
        """Ids -> text; specials are dropped, and decoding stops at the first `<eos>`."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id and stop_at_eos:
                break
            if i >= len(SPECIALS):
                out.append(self.itos[i])
        return "".join(out)
