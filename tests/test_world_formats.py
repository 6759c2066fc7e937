import random

from priorlab.world.formats import LABEL_NAMES, Style, labels_of, parse, render
from priorlab.world.tokenizer import CHARS


def test_labels_of_a_code_trace_by_hand():
    text = "Code: x=2; x+=5 #7;\nA: 7"
    # "Code:" marker -> planning; "x=" other; "2" execution; "+=5" the chosen next operation -> planning;
    # "#7" the result -> execution; "A:" planning; answer digits execution
    expected = "ppppp" + "o" + "oo" + "e" + "o" + "oo" + "ppp" + "o" + "ee" + "o" + "o" + "pp" + "o" + "e"
    assert "".join(parse(text).labels) == expected


def test_labels_of_nl_with_check_and_conf_by_hand():
    text = "Think: 2-5=-3.\nCheck: 2-5=-3.\nConf: 9\nA: -3"
    step = "e" + "pp" + "eee" + "o"  # "2" "-5" "=-3" "."
    expected = "pppppp" + "o" + step + "o" + "pppppp" + "o" + step + "o" + "ppppp" + "o" + "p" + "o" + "pp" + "o" + "ee"
    assert "".join(parse(text).labels) == expected


def test_labels_cover_every_token_of_rendered_and_random_text():
    rng = random.Random(0)
    texts = [render((3, 5, 7), ("+", "-"), Style(f, check=True, conf=4)) for f in ("direct", "nl", "code")]
    texts += ["".join(rng.choice(CHARS) for _ in range(rng.randint(0, 60))) for _ in range(300)]
    texts += ["Think: 3+", "A: ", "Code: x=;", "Think: 1+1=2. \nA: 2", "\n", "A: 1\nA: 1", "Conf: 99\nA: 1"]
    for t in texts:
        labels = labels_of(t)
        assert len(labels) == len(t) and set(labels) <= set(LABEL_NAMES.values())


def test_unparseable_text_is_labelled_and_not_well_formed():
    p = parse("hello")
    assert p.labels == ["u"] * 5 and not p.well_formed and p.answer is None and p.format is None
    p = parse("A: 5\nA: 5")
    assert p.answer == 5 and p.n_answer_lines == 2 and not p.well_formed


def test_well_formed_requires_the_final_answer_line():
    assert parse("Think: 1+1=2.\nA: 2").well_formed
    assert not parse("Think: 1+1=2.").well_formed
    assert not parse("Think: 1+1=2.\nA: 2\n").well_formed
    assert not parse("Think: 1+1=2.\nA: 2 ").well_formed
    assert not parse("Code: x=1 x+=1 #2;\nA: 2").well_formed
    assert parse("Conf: 10\nA: 2").confidence == 1.0
    assert parse("Conf: 11\nA: 2").confidence is None
