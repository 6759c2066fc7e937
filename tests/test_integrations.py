import json
import os
from pathlib import Path

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
    maj = trl_reward("majority", group_size=2)
    # interleaved prompts A (3, 3) and B (5, 7): A's majority 3; B's tie goes to the first answer, 5
    assert maj(prompts=["A", "B", "A", "B"], completions=["\\boxed{3}", "\\boxed{5}", "\\boxed{3}", "\\boxed{7}"],
               answer=["3", "1", "3", "1"]) == [1.0, 1.0, 1.0, 0.0]
    # prompt A drawn twice in one batch: two groups of 2 in order, [3, 3] and [5, 5], each its own majority
    # (one group of 4 would be a tie won by 3: [1, 1, 0, 0])
    assert maj(prompts=["A"] * 4, completions=["\\boxed{3}", "\\boxed{3}", "\\boxed{5}", "\\boxed{5}"],
               answer=["3"] * 4) == [1.0] * 4
    with pytest.raises(ValueError, match="3 completion.* not a multiple of group_size=2.*num_generations"):
        maj(prompts=["A", "A", "A"], completions=["\\boxed{3}"] * 3, answer=["3"] * 3)
    inc = trl_reward("incorrect")
    assert inc(prompts=["A", "A"], completions=["\\boxed{3}", "\\boxed{4}"], answer=["3", "3"],
               incorrect_label=["4", "4"]) == [0.0, 1.0]


def test_majority_needs_a_group_size_of_at_least_two():
    with pytest.raises(ValueError, match="pass group_size=<GRPOConfig.num_generations>"):
        trl_reward("majority")
    with pytest.raises(ValueError, match="got 1"):
        trl_reward("majority", group_size=1)  # a vote of one rewards every answer
    with pytest.raises(ValueError, match="positive integer"):
        trl_reward("correct", group_size=0)


@pytest.mark.parametrize("per_device, whole", [(4, True), (8, True), (2, False), (6, False)])
def test_trl_majority_across_processes(per_device, whole):
    # TRL 1.16 with 2 processes and num_generations 4: each process scores its own share of the generation
    # batch (TRL's RepeatSampler, sharded by accelerate). A share of 4 or 8 holds whole groups; 2 or 6 does not.
    pytest.importorskip("trl")
    from tests.trainer_calls import trl_process_rows

    answers = [str(k) for k in range(8)]
    shares = trl_process_rows(8, num_processes=2, per_device_train_batch_size=per_device, num_generations=4)
    fn = trl_reward("majority", group_size=4)
    for rows in shares:
        # completion j of a prompt answers the gold for j < 3 and 99 after: majority right, the last one wrong
        texts = [f"\\boxed{{{answers[r] if rows[:i].count(r) < 3 else 99}}}" for i, r in enumerate(rows)]
        call = {"prompts": [f"Q{r}" for r in rows], "completions": texts, "answer": [answers[r] for r in rows]}
        if whole:
            assert fn(**call) == [0.0 if rows[:i].count(r) == 3 else 1.0 for i, r in enumerate(rows)]
        else:
            with pytest.raises(ValueError, match="not a multiple of group_size=4"):
                fn(**call)


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
    with pytest.raises(ValueError, match="once per sample"):
        compute_score("x", "\\boxed{3}", "3", reward="majority")
    with pytest.raises(ValueError, match="extra_info\\['incorrect_label'\\]"):
        compute_score("x", "\\boxed{3}", "3", {}, reward="incorrect")


def test_verl_compute_score_accepts_keywords_it_does_not_use(caplog, monkeypatch):
    import priorlab.integrations.verl as verl

    monkeypatch.setattr(verl, "_IGNORED", set())
    # verl 0.9.1 adds reward_router_address and reward_model_tokenizer when a reward router is configured;
    # a later verl may add more. Unknown names are logged once (a typo in reward_kwargs shows), never fatal.
    d = compute_score("x", "\\boxed{3}", "3", {}, reward_router_address="h:1", reward_model_tokenizer=object())
    assert d["score"] == 1.0 and caplog.records == []
    for _ in range(2):
        assert compute_score("x", "\\boxed{3}", "3", rewrd="random", future_keyword=1)["score"] == 1.0
    assert [r.getMessage() for r in caplog.records] == [
        "priorlab compute_score ignores the keyword 'future_keyword' (a typo in reward_kwargs?)",
        "priorlab compute_score ignores the keyword 'rewrd' (a typo in reward_kwargs?)"]


def verl_samples(n_prompts=10, n=4):
    """verl rows (rollout.n = 4, consecutive): prompt k's gold is 2k/(2k+2); its completions answer k/(k+1),
    the same as \\dfrac, (k+1)/(k+2) (the wrong label), and nothing. Fractions, so every comparison is
    Math-Verify's, in the grading subprocesses (integers take an in-process fast path)."""
    def frac(a, b, cmd="frac"):
        return f"\\{cmd}{{{a}}}{{{b}}}"
    return [{"data_source": "math", "ground_truth": frac(2 * k, 2 * k + 2),
             "extra_info": {"index": k, "incorrect_label": frac(k + 1, k + 2, "dfrac")},
             "response": [f"\\boxed{{{frac(k, k + 1)}}}", f"so \\boxed{{{frac(k, k + 1, 'dfrac')}}}",
                          f"\\boxed{{{frac(k + 1, k + 2)}}}", "no idea"][j]}
            for k in range(1, n_prompts + 1) for j in range(n)]


@pytest.mark.parametrize("router", [False, True])
@pytest.mark.parametrize("spec", ["correct", "incorrect", "format+length:0.01"])
def test_verl_reward_loop_per_sample_from_threads(spec, router):
    # verl 0.9.1's reward loop: 8 workers, each scoring its chunk's samples concurrently in executor threads
    from tests.trainer_calls import verl_reward_loop

    samples = verl_samples()
    out = verl_reward_loop(compute_score, samples, {"reward": spec}, router=router)
    serial = [compute_score(s["data_source"], s["response"], s["ground_truth"], s["extra_info"], reward=spec)
              for s in samples]
    assert [o["reward_score"] for o in out] == [d["score"] for d in serial]
    assert [o["reward_extra_info"] for o in out] == serial
    want = {"correct": [1.0, 1.0, 0.0, 0.0], "incorrect": [0.0, 0.0, 1.0, 0.0]}.get(spec)
    if want:  # per prompt: right, right, the wrong label k + 1, no answer
        assert [o["reward_score"] for o in out] == want * 10
    assert [o["reward_extra_info"]["acc"] for o in out] == [True, True, False, False] * 10


def test_verl_majority_is_refused_by_the_reward_loop_and_checked_in_the_batch_manager():
    from tests.trainer_calls import verl_batch_manager, verl_reward_loop

    samples = verl_samples(n_prompts=2)
    with pytest.raises(ValueError, match="majority.*once per sample"):
        verl_reward_loop(compute_score, samples, {"reward": "majority"})
    # the batch manager passes the whole step: per prompt k, k, k+1 vote k; the unanswered one scores 0
    res = verl_batch_manager(compute_score, samples, {"reward": "majority", "group_size": 4})
    assert [d["score"] for d in res] == [1.0, 1.0, 0.0, 0.0] * 2
    with pytest.raises(ValueError, match="4 completion.* not a multiple of group_size=8.*rollout.n"):
        verl_batch_manager(compute_score, samples, {"reward": "majority", "group_size": 8})
    with pytest.raises(ValueError, match="group_size=<actor_rollout_ref.rollout.n>"):
        verl_batch_manager(compute_score, samples, {"reward": "majority"})
    assert [d["score"] for d in verl_batch_manager(compute_score, samples, {"reward": "correct"})] == \
        [1.0, 1.0, 0.0, 0.0] * 2


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


def test_openrlhf_agent_executor_one_query_at_a_time_from_threads():
    # OpenRLHF 0.11.2: every sample's executor calls reward_func([query], [prompt], [label]) in its own thread
    from tests.trainer_calls import openrlhf_single_turn

    # gold k/(k+1) against fractions, so that every comparison runs in the grading subprocesses
    samples = [{"prompt": f"Q{k}: ", "label": lab, "response": resp}
               for k in range(1, 11)
               for lab, resp in [(f"\\frac{{{k}}}{{{k + 1}}}", f"\\boxed{{\\frac{{{2 * k}}}{{{2 * k + 2}}}}}"),
                                 (f"\\frac{{{k}}}{{{k + 1}}}", f"\\boxed{{\\frac{{{k + 1}}}{{{k + 2}}}}}"),
                                 (json.dumps({"answer": f"\\frac{{{k}}}{{{k + 1}}}", "incorrect_label": "x"}),
                                  f"\\boxed{{\\dfrac{{{k}}}{{{k + 1}}}}}"),
                                 (f"\\frac{{{k}}}{{{k + 1}}}", "none")]]
    out = openrlhf_single_turn(openrlhf_reward("correct+malformed:0.5"), samples)
    assert [o["error"] for o in out] == [None] * 40
    # per prompt: right, wrong, right (a JSON label), no answer (0 - 0.5 malformed)
    assert [o["reward"].tolist() for o in out] == [[1.0], [0.0], [1.0], [-0.5]] * 10
    assert [o["scores"].tolist() for o in out] == [[1.0], [0.0], [1.0], [0.0]] * 10  # base reward, no penalty
    assert [o["extra_logs"]["format_ok"].item() for o in out] == [1.0, 1.0, 1.0, 0.0] * 10
    assert all(o["extra_logs"]["prompt_not_prefix"].item() == 0.0 for o in out)


def test_openrlhf_refuses_majority_when_built():
    # one query per call never holds a group; an error inside a call would be logged and dropped by OpenRLHF
    with pytest.raises(ValueError, match="majority.*one query at a time"):
        openrlhf_reward("majority")
    with pytest.raises(ValueError, match="one query at a time"):
        reward_func(["P\\boxed{1}"], ["P"], ["1"], reward="majority")


# --------------------------------------------------------------------------- TRL GRPOTrainer, two steps


def test_trl_grpo_trainer_two_steps_with_priorlab_rewards(tmp_path):
    pytest.importorskip("trl")
    datasets = pytest.importorskip("datasets")
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from tests.trainer_calls import tiny_hf_model

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


@pytest.mark.slow
def test_trl_grpo_trainer_two_processes_majority_needs_whole_groups(tmp_path):
    # TRL's GRPOTrainer in 2 CPU processes (torch.distributed, gloo), num_generations 4, one step each:
    # per_device_train_batch_size 2 gives each process half a group (refused), 4 a whole one (trains)
    pytest.importorskip("trl")
    import subprocess
    import sys

    from tests.trainer_calls import tiny_hf_model

    tiny_hf_model(tmp_path / "tiny")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)]), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                        str(root / "tests" / "trl_two_procs.py"), str(tmp_path / "tiny"), str(tmp_path)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{k}.json").read_text()) for k in range(2)]
    for rep in ranks:
        half, whole = rep["per_device_2"], rep["per_device_4"]
        assert [len(c) for c in half["calls"]] == [2] and "2 completion(s) in this call" in half["error"]
        assert [len(c) for c in whole["calls"]] == [4] and len(set(whole["calls"][0])) == 1 and whole["error"] is None
    assert ranks[0]["per_device_4"]["calls"] != ranks[1]["per_device_4"]["calls"]  # a different prompt each


NO_TORCH = """
import importlib.abc, sys
class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, NoTorch())
from priorlab.integrations.trl import trl_reward
from priorlab.integrations.verl import compute_score
from priorlab.integrations.openrlhf import openrlhf_reward
assert trl_reward("correct")(prompts=["Q", "Q"], completions=["\\\\boxed{2}", "\\\\boxed{3}"],
                             answer=["2", "2"]) == [1.0, 0.0]
assert compute_score("m", "so \\\\boxed{\\\\frac{1}{2}}", "0.5")["score"] == 1.0
out = openrlhf_reward("correct")(["P\\\\boxed{2}"], ["P"], ["2"])
assert out["rewards"] == [1.0] and out["extra_logs"]["correct"] == [1.0], out
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules)
print("ok")
"""


def test_the_trainer_wrappers_work_without_torch():
    # installed beside TRL / verl / OpenRLHF, the wrappers must not need (or pin) a torch of their own
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-3000:]
