import pytest

from priorlab.world.tokenizer import CHARS, VOCAB_VERSION, Tokenizer


def test_round_trip_and_specials():
    tok = Tokenizer()
    text = "Q: 23+45-17=?\nCode: x=23; x+=45 #68; x-=17 #51;\nConf: 7\nA: 51"
    ids = tok.encode(text, bos=True, eos=True)
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id
    assert tok.decode(ids) == text
    # pad must differ from eos, or the stop action gets no gradient
    assert len({tok.pad_id, tok.bos_id, tok.eos_id}) == 3


def test_vocabulary_is_fixed():
    tok = Tokenizer()
    assert tok.vocab_size == 3 + len(CHARS) and VOCAB_VERSION == "char-v1"
    assert tok.encode("0") == [3]  # the first character after the three specials


def test_decode_stops_at_eos_and_drops_specials():
    tok = Tokenizer()
    ids = [tok.bos_id] + tok.encode("A: 1") + [tok.eos_id] + tok.encode("junk") + [tok.pad_id]
    assert tok.decode(ids) == "A: 1"


def test_unknown_character_names_it():
    with pytest.raises(ValueError, match="'€'"):
        Tokenizer().encode("A: €")
