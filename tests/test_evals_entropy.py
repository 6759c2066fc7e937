import math

import pytest
import torch

from priorlab.evals.entropy import (
    cluster_key,
    entropy_by_type,
    extract_strategic_grams,
    gram_mask,
    gram_semantic_entropy,
    ngrams,
    phrase_mask,
    semantic_entropy,
    shannon_entropy,
    strategy_report,
    types_from_mask,
    world_strategy,
)
from priorlab.model.gpt import GPT, config_for_size
from priorlab.model.sampling import sample
from priorlab.rl.rollout import rollout
from priorlab.world.formats import Style, render
from priorlab.world.labels import token_labels
from priorlab.world.tasks import Problem
from priorlab.world.tokenizer import Tokenizer


# ------------------------------------------------------------------------ entropy by token type
def test_entropy_by_type_by_hand():
    # planning tokens: entropies 1, 2 -> mean 1.5; logprobs -.5, -1 -> NLL .75, PPL e^.75
    # execution: entropies .5, 1.5 -> mean 1; logprobs -.2, -.4 -> NLL .3
    # all 6 tokens (other `o` and special `s` too): entropy 5.3/6, NLL (.5+1+.2+.4+2+.1)/6 = .7
    out = entropy_by_type(["ppe", "eos"], [[1.0, 2.0, 0.5], [1.5, 0.3, 0.0]], [[-0.5, -1.0, -0.2], [-0.4, -2.0, -0.1]])
    assert out["planning"] == pytest.approx({"n_tokens": 2, "mean_entropy": 1.5, "mean_nll": 0.75,
                                             "perplexity": math.exp(0.75)})
    assert out["execution"] == pytest.approx({"n_tokens": 2, "mean_entropy": 1.0, "mean_nll": 0.3,
                                              "perplexity": math.exp(0.3)})
    assert out["all"] == pytest.approx({"n_tokens": 6, "mean_entropy": 5.3 / 6, "mean_nll": 0.7,
                                        "perplexity": math.exp(0.7)})


def test_entropy_by_type_empty_type_and_misaligned_input():
    out = entropy_by_type(["oo"], [[0.1, 0.2]], [[-0.1, -0.2]])
    assert out["planning"] == {"n_tokens": 0, "mean_entropy": None, "mean_nll": None, "perplexity": None}
    with pytest.raises(ValueError, match="completion 0: 2 token types, 1 entropies"):
        entropy_by_type(["pe"], [[0.1]], [[-0.1]])


def test_token_labels_follow_the_grammar():
    tok = Tokenizer()
    text = "Code: x=3; x+=4 #7;\nConf: 8\nA: 7"
    ids = tok.encode(text, eos=True)
    types = token_labels(ids, text)
    # "Code" planning, ":" other... the labels of the grammar, then `s` for <eos>
    assert len(types) == len(text) + 1 and types[-1] == "s"
    assert types.startswith("pppp") and types[text.index("+=4")] == "p" and types[text.index("#7") + 1] == "e"
    conf = text.index("Conf: 8")
    assert types[text.index("A: 7"):-1] == "ppoe" and types[conf:conf + 7] == "pppppop"


def test_world_entropy_equals_the_rollout_masks():
    """The eval's per-type entropy and the RL trainer's (rollout masks) agree on the same samples."""
    torch.manual_seed(0)
    model = GPT(config_for_size("xs", Tokenizer().vocab_size, 128)).eval()
    tok = Tokenizer()
    prompts = [tok.encode("Q: 3+4-2=?\n", bos=True), tok.encode("Q: 9-1=?\n", bos=True)]
    ro = rollout(model, prompts, group_size=4, max_new_tokens=40, generator=torch.Generator().manual_seed(5))
    s = sample(model, [p for p in prompts for _ in range(4)], max_new_tokens=40, eos_id=tok.eos_id,
               pad_id=tok.pad_id, generator=torch.Generator().manual_seed(5))
    types, ents, lps = [], [], []
    for b in range(len(s.lengths)):
        n = int(s.lengths[b])
        ids = s.tokens[b, :n].tolist()
        types.append(token_labels(ids, tok.decode(ids)))
        ents.append(s.entropies[b, :n])
        lps.append(s.logprobs[b, :n])
    out = entropy_by_type(types, ents, lps)
    for name, mask in (("planning", ro.planning_mask), ("execution", ro.execution_mask), ("all", ro.completion_mask)):
        assert out[name]["n_tokens"] == int(mask.sum())
        if out[name]["n_tokens"]:
            assert out[name]["mean_entropy"] == pytest.approx(float(ro.entropies[mask].mean()), rel=1e-6)
            assert out[name]["mean_nll"] == pytest.approx(float(-ro.logprobs[mask].mean()), rel=1e-6)


# ------------------------------------------------------------------------- strategic n-grams
CORPUS = ["we can use the fact x", "we can use the fact y", "we can use z",
          "let us try again w", "let us try again v", "numbers 1 2 3"]


def test_ngrams_normalise_and_need_a_letter():
    assert ngrams(["We", "can", "use,"], 3, 3) == {("we", "can", "use")}
    assert ngrams(["1", "+", "2"], 3, 3) == set()  # no letter: execution, not strategy
    assert ngrams(["Ġlet", "Ġus", "Ġtry"], 3, 5) == {("let", "us", "try")}  # BPE space markers
    assert cluster_key(("can", "we", "use")) == cluster_key(("we", "can", "use")) == ("can", "use", "we")


def test_extract_strategic_grams_on_a_crafted_corpus():
    sols = [s.split() for s in CORPUS]
    # cluster document frequencies (distinct solutions): {we,can,use} 3 (s1,s2,s3);
    # 2: {can,use,the} {use,the,fact} {we,can,use,the} {can,use,the,fact} {we,can,use,the,fact}
    #    {let,us,try} {us,try,again} {let,us,try,again};  everything with x/y/z/w/v or "numbers": 1
    r = extract_strategic_grams(sols, top_frac=0.1)  # ceil(.1 * 9) = 1 cluster -> cut at CDF 3
    assert r["n_clusters"] == 9 and r["n_kept"] == 1 and r["cut_doc_freq"] == 3
    assert r["grams"] == [("we", "can", "use")]
    assert r["clusters"][0] == {"key": ["can", "use", "we"], "doc_freq": 3, "grams": [("we", "can", "use")],
                                "kept": True}
    r = extract_strategic_grams(sols, top_frac=0.2)  # ceil(1.8) = 2 -> cut at CDF 2: the ties are all kept
    assert r["n_kept"] == 9 and ("let", "us", "try", "again") in r["grams"]
    assert not any("x" in g or "numbers" in g for g in r["grams"])
    assert extract_strategic_grams(sols, min_doc_freq=1)["n_clusters"] > 9


def test_extract_clusters_permutations_together():
    # "can we use" (s2) and "we can use" (s1) share the token set {can, use, we}: one cluster in 2 docs
    r = extract_strategic_grams([["we", "can", "use", "it"], ["can", "we", "use", "that"]], n_max=3, top_frac=1.0)
    assert r["clusters"] == [{"key": ["can", "use", "we"], "doc_freq": 2,
                              "grams": [("can", "we", "use"), ("we", "can", "use")], "kept": True}]


def test_gram_and_phrase_masks():
    assert gram_mask(["so", "We", "can", "use", "the", "trick"], [("we", "can", "use")]) == \
        [False, True, True, True, False, False]
    toks = ["ĠLet", "'s", "Ġtry", "Ġa", "Ġdiffer", "ent", "Ġapproach", "."]
    assert phrase_mask(toks, ["let's try a different approach"]) == [True] * 7 + [False]
    assert phrase_mask(["Ġretry", "Ġnow"], ["try"]) == [False, False]  # word boundaries
    assert types_from_mask([True, False, True]) == "pep"


# ------------------------------------------------------------------------- semantic entropy
def test_shannon_and_semantic_entropy_by_hand():
    # A, A, B, C: p = .5, .25, .25 -> H = .5 ln 2 + 2 * .25 ln 4 = 1.5 ln 2
    assert semantic_entropy(["A", "A", "B", None, "C"]) == pytest.approx(1.5 * math.log(2))
    assert shannon_entropy([5]) == 0.0 and semantic_entropy([None]) is None
    with pytest.raises(ValueError):
        shannon_entropy([0, 0])


P = Problem((3, 4, 2, 5), ("-", "+", "+"))


@pytest.mark.parametrize("style, expected", [
    (Style("code"), "code/ltr/fine/-"),
    (Style("code", order="pos_first"), "code/pos_first/fine/-"),
    (Style("nl", coarse=True, check=True), "nl/ltr/coarse/check"),
    (Style("nl", order="pos_first"), "nl/pos_first/fine/-"),
    (Style("direct", conf=3, check=True), "direct/-/-/check"),
    (Style("nl", shortcut="skip"), "nl/other/fine/-"),  # a skipped step is no order of this problem
])
def test_world_strategy_reads_the_rendered_choice(style, expected):
    assert world_strategy(P, render(P.operands, P.ops, style)) == expected


def test_world_strategy_edge_cases():
    assert world_strategy(P, "Code: x=7; x-=4 #3; x+=2 #5; x+=5 #10;\nA: 10") == "code/other/fine/-"  # wrong start
    assert world_strategy(P, "garbage") is None
    two = Problem((1, 2), ("+",))  # both orders write 1+2: one strategy, `ltr`
    assert world_strategy(two, render(two.operands, two.ops, Style("nl", order="pos_first"))) == "nl/ltr/fine/-"


def test_strategy_report_by_hand():
    texts = [render(P.operands, P.ops, s) for s in (Style("code"), Style("code", order="pos_first"),
                                                    Style("nl", coarse=True, check=True))] + ["garbage"]
    two = Problem((1, 2), ("+",))
    r = strategy_report([P, two], [texts, ["A: 3", "A: 4"]])
    # problem 1: three strategies once each (+ one without) -> ln 3; problem 2: one strategy -> 0
    # pooled: 5 strategies: direct twice, three others once -> p = .4, .2, .2, .2
    assert r["mean_per_problem"] == pytest.approx(math.log(3) / 2)
    assert r["pooled"] == pytest.approx(-(0.4 * math.log(0.4) + 3 * 0.2 * math.log(0.2)))
    assert (r["n"], r["n_no_strategy"], r["n_strategies"]) == (6, 1, 4)
    assert r["shares"]["direct/-/-/-"] == pytest.approx(0.4)


def test_gram_semantic_entropy_by_hand():
    # occurrences: "we can use" 2, "let us try" 1, "at last" 1 -> p = .5, .25, .25
    sols = [["we", "can", "use", "x", "we", "can", "use"], ["Let", "us", "try"], ["at", "last"], ["nothing"]]
    grams = [("we", "can", "use"), ("let", "us", "try"), ("at", "last")]
    assert gram_semantic_entropy(sols, grams) == pytest.approx(1.5 * math.log(2))
    assert gram_semantic_entropy([["none"]], grams) is None
