from priorlab.world.labels import SPECIAL, token_labels
from priorlab.world.tokenizer import Tokenizer


def test_one_label_per_token_specials_get_s():
    tok = Tokenizer()
    text = "Code: x=3; x+=5 #8;\nA: 8"
    ids = tok.encode(text) + [tok.eos_id]
    labels = token_labels(ids, text)
    assert len(labels) == len(ids)
    assert labels[-1] == SPECIAL  # eos has no character
    assert labels[:5] == "ppppp"  # the strategy marker "Code:" plans
    assert labels[text.index("8")] == "e"  # a running value is execution
    assert set(labels) <= set("peous")


def test_a_stray_special_inside_shifts_nothing():
    tok = Tokenizer()
    text = "A: 8"
    ids = [tok.encode("A")[0], tok.pad_id] + tok.encode(": 8")
    labels = token_labels(ids, text)
    assert labels[1] == SPECIAL
    assert labels[0] + labels[2:] == token_labels(tok.encode(text), text)
