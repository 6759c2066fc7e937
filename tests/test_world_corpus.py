from collections import Counter

from priorlab.world.corpus import build_corpus, correct_probability, documents
from priorlab.world.mixtures import load_mixture, mixture_from_dict
from priorlab.world.tasks import Problem, get_task
from priorlab.world.tokenizer import Tokenizer


def test_corpus_is_a_pure_function_of_the_seed():
    mix = mixture_from_dict({"formats": {"code": 0.5, "nl": 0.5}, "documents": 300})
    a, b, c = build_corpus(mix, 1), build_corpus(mix, 1), build_corpus(mix, 2)
    assert (a.tokens == b.tokens).all() and len(a.starts) == 300
    assert a.tokens.shape != c.tokens.shape or (a.tokens != c.tokens).any()
    tok = Tokenizer()
    assert a.tokens[a.starts[0]] == tok.bos_id and a.tokens[a.starts[1] - 1] == tok.eos_id


def test_documents_follow_the_mixture_and_use_train_problems_only():
    mix = load_mixture("code-prior")
    docs = list(documents(mix, 0, n=4000))
    shares = Counter(s.format for _, s, _ in docs)
    for fmt, spec in mix.formats.items():
        assert abs(shares[fmt] / len(docs) - spec.share) < 0.03
    assert all(p.split == "train" for p, _, _ in docs)
    task = get_task()
    # corrupted documents are exactly the ones that verify() rejects (shortcuts aside)
    clean = [task.verify(p, t.split("\n", 1)[1]).correct for p, s, t in docs
             if s.corrupt_step is None and s.misconception is None and s.shortcut is None]
    assert all(clean)
    noisy_nl = [task.verify(p, t.split("\n", 1)[1]).correct for p, s, t in docs if s.format == "nl"]
    assert 0.4 < sum(noisy_nl) / len(noisy_nl) < 0.85


def test_calibrated_confidence_is_the_corpus_probability_of_being_right():
    mix = load_mixture("code-prior-conf")
    p = Problem((3, 5, 2), ("-", "+"))  # 3-5 goes negative: sign-drop fires in nl
    # nl: (1 - corrupt .1) * (1 - rate .8 * fired) = .9 * .2 = .18; code: 1 - 0 = 1
    assert abs(correct_probability(p, "nl", mix) - 0.18) < 1e-9
    assert correct_probability(p, "code", mix) == 1.0
