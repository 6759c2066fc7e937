import random

import pytest

from priorlab.common import rundirs, runfiles
from priorlab.model.checkpoint import load_model
from priorlab.pretrain import PretrainConfig, pretrain
from priorlab.rl.loop import RLConfig
from priorlab.rl.loop import train as rl_train
from priorlab.sft.srl import (
    SRLConfig,
    StepPrompt,
    cut_first_step,
    expert_steps,
    prompt_ids,
    split_steps,
    step_prompts,
    step_reward,
    train,
)
from priorlab.world.formats import Style, render
from priorlab.world.tasks import Problem
from priorlab.world.tokenizer import Tokenizer
from tests.test_sft_loop import NO_CODE_MIXTURE


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny xs model pretrained ~250 steps on a prior without code traces."""
    d = tmp_path_factory.mktemp("srlbase")
    (d / "nl.yaml").write_text(NO_CODE_MIXTURE)
    cfg = PretrainConfig(mixture=str(d / "nl.yaml"), size="xs", tokens=16 * 64 * 250, batch_size=16, seq_len=64)
    pretrain(cfg, d / "pt", use_cache=False, progress=False, log=quiet)
    return d / "pt"


def quiet(*_):
    pass


def _cfg(base, **kw):
    args = dict(init=str(base), expert_format="code", steps=4, prompts_per_step=8, group_size=4, minibatches=2,
                lr=3e-3, difficulty="2x1", eval_every=2, eval_problems=8, eval_samples=2, max_new_tokens=40,
                ckpt_every=2)
    return SRLConfig(**{**args, **kw})


P = Problem((3, 5, 2), ("+", "-"))  # 3+5-2 = 6


def test_split_steps_by_hand():
    assert split_steps(render(P.operands, P.ops, Style("nl"))) == ["Think: 3+5=8.", " 8-2=6.", "\nA: 6"]
    assert split_steps(render(P.operands, P.ops, Style("code"))) == ["Code: x=3; x+=5 #8;", " x-=2 #6;", "\nA: 6"]
    assert split_steps(render(P.operands, P.ops, Style("direct"))) == ["A: 6"]
    text = render(P.operands, P.ops, Style("nl", coarse=True, check=True, conf=7))
    assert split_steps(text) == ["Think: 3+5-2=6.", "\nCheck: 3+5-2=6.", "\nConf: 7", "\nA: 6"]
    assert expert_steps(P, "code") == ["Code: x=3; x+=5 #8;", " x-=2 #6;", "\nA: 6"]
    # any text splits into pieces that join back to it, malformed text included
    rng = random.Random(0)
    for _ in range(200):
        junk = "".join(rng.choice("x=3;. #+-\nA:Code") for _ in range(rng.randint(0, 30)))
        pieces = split_steps(junk)
        assert "".join(pieces) == junk and all(pieces)


def test_step_prompt_holds_the_problem_and_the_expert_steps_before_k():
    tok = Tokenizer()
    sp = StepPrompt(P, 2, tuple(expert_steps(P, "code")))
    assert tok.decode(prompt_ids(sp, tok)) == "Q: 3+5-2=?\nCode: x=3; x+=5 #8;" and sp.target == " x-=2 #6;"
    sps = step_prompts(50, _cfg("x", difficulty="3x1"), random.Random(0))
    # 3 operands in code: marker + init + first operation, second operation, answer line -> 3 steps
    assert all(1 <= s.k <= len(s.steps) == 3 and s.problem.split == "train" for s in sps)
    assert {s.k for s in sps} == {1, 2, 3}


def test_step_reward_is_the_sequence_matcher_ratio_by_hand():
    # " x-=2 #6;" vs " x-=3 #6;": matching blocks " x-=" and " #6;" -> M = 8, T = 9 + 9 -> 2*8/18
    r = step_reward(" x-=2 #6;", " x-=3 #6;")
    assert r.score == pytest.approx(16 / 18) and r.components["exact"] == 0.0 and not r.correct
    assert step_reward("\nA: 12", "\nA: 16").score == pytest.approx(2 * 5 / 12)  # "\nA: 1" matches
    assert step_reward("", " x-=2 #6;").score == 0.0
    r = step_reward(" x-=2 #6;", " x-=2 #6;")
    assert r.score == 1.0 and r.correct and r.components == {"similarity": 1.0, "exact": 1.0}


def test_cut_first_step_keeps_the_step_tokens_and_eos_when_the_step_ends_there():
    tok = Tokenizer()
    ids = tok.encode(" x-=2 #6; x+=1 #7;\nA: 7", eos=True)
    assert cut_first_step(ids, True, tok) == (" x-=2 #6;", 9)  # the next step's tokens are not scored
    assert cut_first_step(tok.encode("\nA: 6", eos=True), True, tok) == ("\nA: 6", 6)  # 5 chars + eos
    assert cut_first_step(tok.encode("\nA: 6\nQ: 1", eos=False), False, tok) == ("\nA: 6", 5)
    assert cut_first_step([tok.eos_id], True, tok) == ("", 1)  # an immediate stop is the action
    assert cut_first_step(tok.encode("Code: x=3; x+=5 #8; x"), False, tok) == ("Code: x=3; x+=5 #8;", 19)


def test_config_rejects_algorithms_that_need_binary_rewards():
    with pytest.raises(ValueError, match="--algo psr: .*similarity"):
        _cfg("x", algo="psr")
    with pytest.raises(ValueError, match="--expert-format 'latex'"):
        _cfg("x", expert_format="latex")
    assert _cfg("x", algo="dr_grpo").algo_config().agg_constant == 32.0  # the step budget


def test_srl_learns_held_out_code_steps_then_rl_starts_from_it(base, tmp_path):
    s = train(_cfg(base, steps=40, eval_every=40, ckpt_every=40), tmp_path / "srl", progress=False, log=quiet)
    assert s["eval/step_similarity/before"] < 0.35  # the student never saw code
    assert s["eval/step_similarity/after"] > s["eval/step_similarity/before"] + 0.1  # measured 0.26 -> 0.47
    rows = runfiles.MetricsLog(tmp_path / "srl" / "metrics.jsonl").read()
    for key in ("reward/mean", "reward/exact", "srl/k_mean", "loss/clip_frac", "adv/frac_groups_all_equal",
                "entropy/step", "length/step_mean"):
        assert key in rows[1], key
    _, meta = load_model(tmp_path / "srl")
    assert meta["stage"] == "srl" and meta["step"] == 40
    rl = RLConfig(init=str(tmp_path / "srl"), steps=2, prompts_per_step=4, group_size=4, minibatches=2,
                  max_new_tokens=40, difficulty="2x1", eval_every=2, eval_problems=8, eval_samples=2, ckpt_every=2)
    r = rl_train(rl, tmp_path / "rl", progress=False, log=quiet)
    assert r["steps"] == 2 and rundirs.is_finished(tmp_path / "rl")
    _, meta = load_model(tmp_path / "rl")
    assert meta["stage"] == "rl" and meta["init"] == str(tmp_path / "srl")


def test_same_seed_identical_and_interrupted_resume_is_bitwise(base, tmp_path):
    cfg = _cfg(base)
    train(cfg, tmp_path / "a", progress=False, log=quiet)
    train(cfg, tmp_path / "b", progress=False, log=quiet)
    weights = (tmp_path / "a" / "model.safetensors").read_bytes()
    assert weights == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert (tmp_path / "a" / "checkpoints" / "step_00000000" / "state.pt").is_file()

    class Stop(Exception):
        pass

    def stop_after_step_3(msg):
        if str(msg).startswith("step 3/"):
            raise Stop

    with pytest.raises(Stop):
        train(cfg, tmp_path / "c", progress=True, log=stop_after_step_3)
    s = train(cfg, tmp_path / "c", resume=True, progress=False, log=quiet)
    assert s["resumed_from"] == 2
    assert (tmp_path / "c" / "model.safetensors").read_bytes() == weights

    def strip(rs):
        return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rs]

    assert strip(runfiles.MetricsLog(tmp_path / "c" / "metrics.jsonl").read()) == \
        strip(runfiles.MetricsLog(tmp_path / "a" / "metrics.jsonl").read())


def test_cli_bad_input_is_one_error_line(base, tmp_path):
    from typer.testing import CliRunner

    from priorlab.cli import app

    for args, needle in [(["--expert-format", "latex"], "--expert-format 'latex'"), (["--algo", "nsr"], "--algo nsr"),
                         (["--group-size", "0"], "--group-size")]:
        r = CliRunner().invoke(app, ["srl", "--init", str(base), "--out", str(tmp_path / "x"), *args])
        assert r.exit_code == 2 and r.stderr.startswith("error:") and needle in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and isinstance(r.exception, SystemExit)
    assert not (tmp_path / "x").exists()
