import json

import numpy as np
import pytest

from priorlab.integrations.batch import completion_text
from priorlab.integrations.openrlhf import openrlhf_reward, reward_func
from priorlab.integrations.trl import trl_reward
from priorlab.integrations.verl import compute_score
from priorlab.math.grading import parse_confidence
from priorlab.math.reward import MathReward
from priorlab.rl.rewards import BRIER_MISSING

# A group of four completions of one MATH-style prompt whose gold answer is 1/2.
GOLD = "\\frac{1}{2}"
GROUP = [
    "half: \\boxed{0.5} <confidence>0.8</confidence>",       # correct, confident
    "\\boxed{\\frac{1}{3}} <confidence>0.4</confidence>",    # wrong
    "\\boxed{\\frac13}",                                      # wrong, same vote as the one above, no confidence
    "I am not sure",                                          # no answer
]


def outs(spec, texts=GROUP, gold=GOLD, **kw):
    return MathReward(spec, seed=kw.pop("seed", 0)).score_group(texts, gold, step=kw.pop("step", 0),
                                                                 prompt_index=kw.pop("prompt_index", 0), **kw)


def test_parse_confidence_last_tag_in_unit_interval():
    assert parse_confidence("<confidence>0.2</confidence> ... <confidence> 0.7 </confidence>") == 0.7
    assert [parse_confidence(t) for t in ("<confidence>1.5</confidence>", "<confidence>high</confidence>",
                                          "<confidence>nan</confidence>", "no tag")] == [None] * 4


def test_completion_text_standard_and_conversational():
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "\\boxed{1}"}]) == "\\boxed{1}"
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]
    assert completion_text(parts) == "ab"


# ------------------------------------------------------------------------------ every reward on real text


def test_correct_and_shadow_metrics():
    o = outs("correct")
    assert [x.score for x in o] == [1.0, 0.0, 0.0, 0.0]
    assert [x.components["format_ok"] for x in o] == [1.0, 1.0, 1.0, 0.0]
    assert all(x.components["grade_failed"] == 0.0 for x in o)


def test_format_is_a_non_empty_box():
    assert [x.score for x in outs("format")] == [1.0, 1.0, 1.0, 0.0]
    assert [x.score for x in outs("format", ["\\boxed{}", "\\boxed{12"])] == [0.0, 0.0]


def test_random_is_seeded_and_ignores_text():
    a, b = outs("random:0.5", seed=3, step=2), outs("random:0.5", ["x"] * 4, seed=3, step=2)
    expect = [float(np.random.default_rng([3, 2, 0, i]).random() < 0.5) for i in range(4)]
    assert [x.score for x in a] == [x.score for x in b] == expect
    assert [x.correct for x in a] == [True, False, False, False]  # the shadow metric is still the truth
    assert all(x.score == 0.0 for x in outs("random:0")) and all(x.score == 1.0 for x in outs("random:1"))


def test_incorrect_grades_against_the_wrong_label():
    o = outs("incorrect", wrong_label="\\dfrac{1}{3}")  # equivalent to 1/3 and \frac13
    assert [x.score for x in o] == [0.0, 1.0, 1.0, 0.0]
    assert [x.correct for x in o] == [True, False, False, False]
    with pytest.raises(ValueError, match="needs a wrong label"):
        outs("incorrect")


def test_majority_votes_over_answer_keys():
    o = outs("majority")
    # votes: 0.5 once, \frac{1}{3} once, \frac13 once -- three different strings: a three-way tie goes to the
    # first answer seen (0.5), which is correct
    assert [x.score for x in o] == [1.0, 0.0, 0.0, 0.0]
    assert o[0].components["label_correct"] == 1.0 and o[0].components["majority_ratio"] == 1 / 4
    o2 = outs("majority", ["\\boxed{7}", "\\boxed{ 7 }", "\\boxed{\\frac{1}{2}}", "none"])
    # keys 7, 7, \frac{1}{2}: majority 7 (wrong) with 2 of 4 votes
    assert [x.score for x in o2] == [1.0, 1.0, 0.0, 0.0]
    assert o2[0].components["label_correct"] == 0.0 and o2[0].components["majority_ratio"] == 0.5
    assert [x.score for x in outs("majority", ["none", "nothing"])] == [0.0, 0.0]  # no votes: no label


def test_brier_from_confidence_tag():
    o = outs("brier")
    # correct at .8: 1 - (.8-1)^2 = .96; wrong at .4: 0 - (.4-0)^2 = -.16; no confidence / no answer: -2
    assert [x.score for x in o] == pytest.approx([0.96, -0.16, BRIER_MISSING, BRIER_MISSING])


def test_penalties_apply_on_top():
    o = outs("correct+length:0.01+malformed:0.5")
    assert o[0].score == pytest.approx(1.0 - 0.01 * len(GROUP[0]))
    assert o[3].score == pytest.approx(-0.01 * len(GROUP[3]) - 0.5)


def test_grading_failure_is_flagged():
    o = MathReward("correct").score_group(["\\boxed{1}"], "1/0", step=0, prompt_index=0)
    assert o[0].score == 0.0 and o[0].components["grade_failed"] == 1.0


def test_bad_spec_is_rejected():
    with pytest.raises(ValueError, match="unknown reward 'accuracy'"):
        MathReward("accuracy")


# ------------------------------------------------------------------------------------------------ TRL


def test_trl_reward_signature_standard_and_conversational():
    fn = trl_reward("correct")
    assert fn.__name__ == "priorlab_correct"
    extra, metrics = {}, {}
    scores = fn(prompts=["Q1", "Q1", "Q2"], completions=["\\boxed{0.5}", "\\boxed{2}", "\\boxed{4}"],
                completion_ids=[[1], [2], [3]], answer=["1/2", "1/2", "4"], trainer_state=None,
                log_extra=lambda c, v: extra.__setitem__(c, v), log_metric=lambda n, v: metrics.__setitem__(n, v))
    assert scores == [1.0, 0.0, 1.0]
    assert extra == {"pred": ["0.5", "2", "4"], "grade_status": ["ok", "ok", "ok"]}
    assert metrics["priorlab_correct/correct"] == pytest.approx(2 / 3)
    conv = [[{"role": "assistant", "content": "\\boxed{0.5}"}], [{"role": "assistant", "content": "no"}]]
    prompts = [[{"role": "user", "content": "Q"}]] * 2
    assert fn(prompts=prompts, completions=conv, answer=["1/2", "1/2"]) == [1.0, 0.0]
    with pytest.raises(ValueError, match="needs the dataset column 'answer'"):
        fn(prompts=["Q"], completions=["x"], solution=["1"])


def test_trl_groups_by_prompt_for_majority_and_incorrect():
    maj = trl_reward("majority")
    # prompt A: 3, 3, 5 -> majority 3; prompt B (interleaved): 5 alone -> its own majority
    assert maj(prompts=["A", "B", "A", "A"], completions=["\\boxed{3}", "\\boxed{5}", "\\boxed{3}", "\\boxed{5}"],
               answer=["3", "1", "3", "3"]) == [1.0, 1.0, 1.0, 0.0]
    inc = trl_reward("incorrect")
    assert inc(prompts=["A", "A"], completions=["\\boxed{3}", "\\boxed{4}"], answer=["3", "3"],
               incorrect_label=["4", "4"]) == [0.0, 1.0]


def test_trl_random_steps_per_call():
    fn = trl_reward("random:0.5", seed=1)
    args = {"prompts": ["A"] * 8, "completions": ["x"] * 8, "answer": ["1"] * 8}
    first, second = fn(**args), fn(**args)
    assert first == [float(np.random.default_rng([1, 0, 0, i]).random() < 0.5) for i in range(8)]
    assert second == [float(np.random.default_rng([1, 1, 0, i]).random() < 0.5) for i in range(8)]


# ----------------------------------------------------------------------------------------------- verl


def test_verl_compute_score_per_sample():
    d = compute_score("HuggingFaceH4/MATH-500", "so \\boxed{\\frac{2}{4}}", "\\frac{1}{2}", {"index": 0})
    assert d == {"score": 1.0, "acc": True, "pred": "\\frac{2}{4}", "grade_status": "ok", "format_ok": 1.0}
    d = compute_score("x", "no answer", "3", None, reward="format")
    assert (d["score"], d["acc"], d["pred"], d["grade_status"]) == (0.0, False, "", "no_answer")
    d = compute_score("x", "\\boxed{4}", "3", {"incorrect_label": "4"}, reward="incorrect")
    assert (d["score"], d["acc"]) == (1.0, False)
    b = compute_score("x", "\\boxed{3} <confidence>1</confidence>", "3", reward="brier")
    assert b["score"] == 1.0  # 1 - (1 - 1)^2
    with pytest.raises(ValueError, match="batch reward manager"):
        compute_score("x", "\\boxed{3}", "3", reward="majority")
    with pytest.raises(ValueError, match="extra_info\\['incorrect_label'\\]"):
        compute_score("x", "\\boxed{3}", "3", {}, reward="incorrect")
    with pytest.raises(TypeError, match="rewrd"):
        compute_score("x", "\\boxed{3}", "3", rewrd="random")  # a typo in reward_kwargs is loud


def test_verl_batch_form_groups_for_majority():
    res = compute_score(data_sources=["m"] * 4, solution_strs=["\\boxed{2}", "\\boxed{2}", "\\boxed{9}", "\\boxed{9}"],
                        ground_truths=["2", "2", "9", "9"], extra_infos=[{"index": 0}, {"index": 0}, {"index": 1},
                                                                         {"index": 1}], reward="majority")
    assert [d["score"] for d in res] == [1.0] * 4 and [d["acc"] for d in res] == [True] * 4


# ------------------------------------------------------------------------------------------- OpenRLHF


def test_openrlhf_reward_func_strips_prompt():
    fn = openrlhf_reward("correct")
    out = fn(["Q: 1+1?\nA: \\boxed{2}", "Q: 1+1?\nA: \\boxed{3}", "other \\boxed{2}"],
             ["Q: 1+1?\n", "Q: 1+1?\n", "Q: 1+1?\n"], ["2", "2", "2"])
    assert out["rewards"].tolist() == [1.0, 0.0, 1.0] and out["scores"].tolist() == [1.0, 0.0, 1.0]
    assert out["extra_logs"]["prompt_not_prefix"].tolist() == [1.0] * 3  # one query lacked its prompt
    assert out["extra_logs"]["correct"].tolist() == [1.0, 0.0, 1.0]


def test_openrlhf_brier_scores_in_unit_interval_and_incorrect_labels():
    out = openrlhf_reward("brier")(["P\\boxed{2}<confidence>0.5</confidence>", "P no"], ["P", "P"], ["2", "2"])
    # rewards: 1 - .25 = .75 and -2; scores map [-2, 1] -> [0, 1]: (.75 + 2) / 3, 0
    assert out["rewards"].tolist() == pytest.approx([0.75, -2.0])
    assert out["scores"].tolist() == pytest.approx([2.75 / 3, 0.0])
    lab = json.dumps({"answer": "2", "incorrect_label": "5"})
    inc = reward_func(["P\\boxed{5}", "P\\boxed{2}"], ["P", "P"], [lab, {"answer": "2", "incorrect_label": "5"}],
                      reward="incorrect")
    assert inc["rewards"].tolist() == [1.0, 0.0] and inc["extra_logs"]["correct"].tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="incorrect_label"):
        reward_func(["P\\boxed{5}"], ["P"], ["2"], reward="incorrect")


# --------------------------------------------------------------------------- TRL GRPOTrainer, two steps


def tiny_hf_model(path):
    """A 2-layer random LlamaForCausalLM and a character tokenizer (pad != eos), saved to `path`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    chars = list("0123456789+-=?{}\\abcdefghijklmnopqrstuvwxyz :.\n")
    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{c: i + 3 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")  # one token per character
    tok.decoder = decoders.Fuse()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                         max_position_embeddings=64, pad_token_id=0, eos_token_id=1,
                                         bos_token_id=None))
    model.save_pretrained(path)
    hf_tok.save_pretrained(path)
    return model, hf_tok


def test_trl_grpo_trainer_two_steps_with_priorlab_rewards(tmp_path):
    pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    import torch
    from trl import GRPOConfig, GRPOTrainer

    model, tok = tiny_hf_model(tmp_path / "tiny")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ds = datasets.Dataset.from_list([{"prompt": f"{a}+{b}=?", "answer": str(a + b)}
                                     for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]])
    seen = []
    random_r, format_r = trl_reward("random:0.5", seed=0), trl_reward("format")

    def spy(prompts, completions, **kw):
        seen.append((list(prompts), list(completions), sorted(kw)))
        return random_r(prompts, completions, **kw)

    spy.__name__ = random_r.__name__
    args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4,
                      max_completion_length=8, max_steps=2, logging_steps=1, report_to="none", use_cpu=True,
                      save_strategy="no", learning_rate=1e-3, seed=0, bf16=False)
    trainer = GRPOTrainer(model=str(tmp_path / "tiny"), reward_funcs=[spy, format_r], args=args, train_dataset=ds,
                          processing_class=tok)
    trainer.train()

    assert len(seen) == 2  # one call per step: 1 prompt x 4 generations each
    for prompts, completions, kw in seen:
        assert len(set(prompts)) == 1 and len(completions) == 4 and "answer" in kw and "trainer_state" in kw
    logs = [h for h in trainer.state.log_history if "rewards/priorlab_random/mean" in h]
    assert len(logs) == 2
    for call, h in enumerate(logs):  # the seeded draws of call `call`, group 0, samples 0..3
        draws = [float(np.random.default_rng([0, call, 0, i]).random() < 0.5) for i in range(4)]
        assert h["rewards/priorlab_random/mean"] == pytest.approx(np.mean(draws))
        assert h["rewards/priorlab_format/mean"] == 0.0  # a random model writes no \boxed{}
        assert h["priorlab_random/correct"] == 0.0 and h["priorlab_format/grade_failed"] == 0.0
    after = trainer.model.state_dict()
    assert any(not torch.equal(before[k], after[k].cpu()) for k in before)  # the update happened


def test_the_trainer_wrappers_import_no_torch():
    # installed beside TRL / verl / OpenRLHF, the wrappers must not pull in (or pin) a torch of their own
    import subprocess
    import sys

    code = ("import sys, priorlab.integrations.trl, priorlab.integrations.verl, priorlab.integrations.openrlhf; "
            "assert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).returncode == 0
