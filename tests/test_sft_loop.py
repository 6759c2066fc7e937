import json
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from priorlab.common import rundirs, runfiles
from priorlab.evals.world_eval import EvalConfig, evaluate
from priorlab.model.checkpoint import load_model
from priorlab.model.gpt import GPT, config_for_size
from priorlab.pretrain import PretrainConfig, pretrain
from priorlab.sft.batchers import WorldBatcher, batch_indices, numpy_permutation
from priorlab.sft.loop import SFTConfig, train
from priorlab.sft.traces import TracesError, load_traces, teacher_traces
from priorlab.world.formats import parse
from priorlab.world.tasks import get_task
from priorlab.world.tokenizer import Tokenizer
from tests.conftest import run_cli

# A prior with NO code traces: nl (the only trace format) and direct answers.
NO_CODE_MIXTURE = """\
formats:
  nl: {share: 0.8, corrupt: 0.1}
  direct: {share: 0.2, corrupt: 0.5}
difficulty: {"2x1": 0.5, "3x1": 0.5}
documents: 3000
"""


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """A tiny xs model pretrained ~150 steps on a prior without code traces."""
    d = tmp_path_factory.mktemp("sftbase")
    (d / "nl.yaml").write_text(NO_CODE_MIXTURE)
    cfg = PretrainConfig(mixture=str(d / "nl.yaml"), size="xs", tokens=16 * 64 * 150, batch_size=16, seq_len=64)
    pretrain(cfg, d / "pt", use_cache=False, progress=False, log=quiet)
    return d / "pt"


def quiet(*_):
    pass


def _cfg(student, **kw):
    args = dict(init=str(student), teacher_format="code", difficulty="2x1,3x1", problems=500, steps=4,
                batch_size=16, lr=2e-3, eval_every=2, eval_difficulty="2x1", eval_problems=8, eval_samples=2,
                max_new_tokens=40, ckpt_every=2)
    return SFTConfig(**{**args, **kw})


def _code_share(run_dir) -> float:
    model, _ = load_model(run_dir)
    s = evaluate(model, EvalConfig(problems=20, samples=4, difficulty="2x1", max_new_tokens=40))
    return s["format_shares"]["code"]


def test_make_batch_masks_prompt_and_padding_by_hand():
    pairs = [([1, 10, 11], [12, 13, 2]), ([1, 10], [14, 2])]
    x, y = WorldBatcher.collate(pairs, pad_id=0)
    # row 0: seq 1 10 11 12 13 2 -> x = seq[:-1]; targets only where the next token is a completion token
    # row 1: seq 1 10 14 2 -> x = 1 10 14, right-padded with 0
    assert x.tolist() == [[1, 10, 11, 12, 13], [1, 10, 14, 0, 0]]
    assert y.tolist() == [[-100, -100, 12, 13, 2], [-100, 14, 2, -100, -100]]


def test_prompt_tokens_contribute_nothing_to_the_loss():
    tok = Tokenizer()
    torch.manual_seed(0)
    model = GPT(config_for_size("xs", tok.vocab_size, 64))
    task = get_task()
    ex = teacher_traces("code", "2x1,3x1", 3, seed=0)
    pairs = [(tok.encode(task.prompt(e.problem), bos=True), tok.encode(e.completion, eos=True)) for e in ex]
    x, y = WorldBatcher.collate(pairs, tok.pad_id)
    logits, loss = model(x, y)
    logits.retain_grad()
    loss.backward()
    # by hand: the mean of -log p(target) over completion targets only (eos included)
    logp = torch.log_softmax(logits.detach(), -1)
    terms = [-logp[b, t, y[b, t]] for b in range(len(pairs)) for t in range(x.shape[1]) if y[b, t] != -100]
    assert len(terms) == sum(len(c) for _, c in pairs)
    assert loss.item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-5)
    # the gradient reaches the logits of completion positions and no others
    scored = (y != -100)
    assert bool((logits.grad[~scored] == 0).all())
    assert bool((logits.grad[scored].abs().sum(-1) > 0).all())


def test_batches_are_a_pure_function_of_seed_and_step_and_cover_each_epoch():
    def world(n, step, seed, batch_size):
        return batch_indices(n, step, batch_size, partial(numpy_permutation, seed))

    assert world(10, 3, seed=1, batch_size=4) == world(10, 3, seed=1, batch_size=4)
    epoch0 = world(10, 0, 1, 5) + world(10, 1, 1, 5)
    assert sorted(epoch0) == list(range(10))  # steps 0-1 of batch 5 are one permutation of the 10 examples
    assert world(10, 0, 1, 5) != world(10, 0, 2, 5)
    # the world's stream, pinned (a change would silently change every SFT run): numpy's
    # default_rng([1, epoch, 0x5F7]).permutation(10); step 2 of batch 4 = slots 8, 9 of epoch 0 + 0, 1 of epoch 1
    perm0, perm1 = (np.random.default_rng([1, e, 0x5F7]).permutation(10).tolist() for e in (0, 1))
    assert world(10, 2, 1, 4) == perm0[8:] + perm1[:2] == [1, 8, 8, 6]
    assert world(10, 0, 1, 4) == [6, 2, 3, 7]


def test_world_batcher_batch_is_the_collated_examples_of_the_step_by_hand():
    tok = Tokenizer()
    policy = SimpleNamespace(model=GPT(config_for_size("xs", tok.vocab_size, 64)), tok=tok)
    cfg = SFTConfig(init="x", teacher_format="direct", difficulty="2x1", problems=3, batch_size=2, seed=0)
    batcher = WorldBatcher(cfg, policy, log=quiet)
    examples = teacher_traces("direct", "2x1", 3, seed=0)
    assert batcher.data == {"source": "teacher:direct", "examples": 3}
    idx = batch_indices(3, 1, 2, partial(numpy_permutation, 0))  # slot 2 of epoch 0, slot 0 of epoch 1
    x, y = batcher.batch(1)
    task = get_task()
    for b, i in enumerate(idx):
        # <bos> Q: a+b=?\n A: s <eos>: inputs drop the last token, targets are the completion's tokens only
        prompt, completion = task.prompt(examples[i].problem), examples[i].completion
        seq = tok.encode(prompt + completion, bos=True, eos=True)
        n_prompt = len(tok.encode(prompt, bos=True))
        assert x[b, : len(seq) - 1].tolist() == seq[:-1]
        assert y[b].tolist()[: len(seq) - 1] == [-100] * (n_prompt - 1) + seq[n_prompt:]
        assert (x[b, len(seq) - 1 :] == tok.pad_id).all() and (y[b, len(seq) - 1 :] == -100).all()
    assert batcher.metrics((x, y)) == {"tokens/completion": sum(len(examples[i].completion) + 1 for i in idx)}


def test_teacher_traces_are_gold_train_split_solutions_of_the_format():
    task = get_task()
    for fmt in ("code", "nl", "direct"):
        for e in teacher_traces(fmt, "3x1", 20, seed=0):
            assert e.problem.split == "train" and parse(e.completion).format == fmt
            assert task.verify(e.problem, e.completion).correct


def test_traces_file_parsing_and_errors_name_file_and_line(tmp_path):
    good = [{"problem": "3+5-2", "completion": "Code: x=3; x+=5 #8; x-=2 #6;\nA: 6"},
            {"problem": "4+4", "completion": "A: 8", "format": "direct"}]  # extra fields are ignored
    bad = ['{"problem": "3+5"',  # line 4: truncated JSON
           json.dumps({"problem": "3*5*2", "completion": "A: 30"}),  # line 5: not a+b-c or a*k+b
           json.dumps({"problem": "3+5", "completion": "A: 8 \u00e9"}),  # line 6: not in the vocabulary
           json.dumps({"completion": "A: 8"}),  # line 7: no problem
           json.dumps({"problem": "1+1", "completion": "A: 2" * 100})]  # line 8: longer than the block
    f = tmp_path / "traces.jsonl"
    f.write_text("\n".join([json.dumps(good[0]), "", json.dumps(good[1]), *bad]) + "\n")
    with pytest.raises(TracesError, match=r"traces\.jsonl:4: invalid JSON"):
        load_traces(f)
    for lineno, needle in [(5, "a\\+b-c"), (6, "not in vocabulary"), (7, "fields 'problem' and 'completion'"),
                           (8, "block size")]:
        g = tmp_path / f"only{lineno}.jsonl"
        g.write_text(json.dumps(good[0]) + "\n" * (lineno - 1) + bad[lineno - 4] + "\n")
        with pytest.raises(TracesError, match=rf"only{lineno}\.jsonl:{lineno}: .*{needle}"):
            load_traces(g)
    examples, skipped, first = load_traces(f, skip_bad_lines=True)
    assert [e.problem.expr for e in examples] == ["3+5-2", "4+4"] and skipped == 5
    assert first.endswith(":4: invalid JSON (Expecting ',' delimiter)")
    only_bad = tmp_path / "bad.jsonl"
    only_bad.write_text(bad[0] + "\n")
    with pytest.raises(TracesError, match="no usable traces \\(1 malformed lines skipped\\)"):
        load_traces(only_bad, skip_bad_lines=True)
    with pytest.raises(TracesError, match="file not found"):
        load_traces(tmp_path / "missing.jsonl")


def test_config_needs_exactly_one_source():
    with pytest.raises(ValueError, match="exactly one"):
        SFTConfig(init="x")
    with pytest.raises(ValueError, match="exactly one"):
        SFTConfig(init="x", traces="t.jsonl", teacher_format="code")
    with pytest.raises(ValueError, match="--teacher-format 'latex'"):
        SFTConfig(init="x", teacher_format="latex")


def test_distilling_code_into_a_student_that_never_saw_code(student, tmp_path):
    before = _code_share(student)
    s = train(_cfg(student, steps=80, eval_every=80, ckpt_every=80), tmp_path / "sft", progress=False, log=quiet)
    after = _code_share(tmp_path / "sft")
    assert before == 0.0  # the prior has no code traces: the format is new to the student
    assert after >= 0.5, after  # measured 0.91 (80 steps, lr 2e-3)
    assert s["eval/format/code/before"] == 0.0 and s["eval/format/code/after"] >= 0.5
    assert s["data"] == {"source": "teacher:code", "examples": 500}


def test_same_seed_identical_weights_and_interrupted_resume_is_bitwise(student, tmp_path):
    cfg = _cfg(student)
    train(cfg, tmp_path / "a", progress=False, log=quiet)
    train(cfg, tmp_path / "b", progress=False, log=quiet)
    weights = (tmp_path / "a" / "model.safetensors").read_bytes()
    assert weights == (tmp_path / "b" / "model.safetensors").read_bytes()
    rows = runfiles.MetricsLog(tmp_path / "a" / "metrics.jsonl").read()
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4]
    assert "eval/acc_greedy" in rows[0] and "loss/sft" in rows[1] and "eval/format/code" in rows[2]
    for name in ("config.json", "summary.json", "model.json"):
        assert (tmp_path / "a" / name).is_file()
    assert (tmp_path / "a" / "checkpoints" / "step_00000000" / "state.pt").is_file()  # step 0 is kept
    _, meta = load_model(tmp_path / "a")  # an `--init` for priorlab rl
    assert meta["stage"] == "sft" and meta["step"] == 4 and meta["init"] == str(student)

    class Stop(Exception):
        pass

    def stop_after_step_3(msg):
        if str(msg).startswith("step 3/"):
            raise Stop  # dies after step 3 was logged, before a checkpoint for it (every 2 steps)

    with pytest.raises(Stop):
        train(cfg, tmp_path / "c", progress=True, log=stop_after_step_3)
    assert not rundirs.is_finished(tmp_path / "c")
    s = train(cfg, tmp_path / "c", resume=True, progress=False, log=quiet)
    assert s["resumed_from"] == 2
    assert (tmp_path / "c" / "model.safetensors").read_bytes() == weights

    def strip(rs):
        return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rs]

    assert strip(runfiles.MetricsLog(tmp_path / "c" / "metrics.jsonl").read()) == strip(rows)
    # resuming under another config would silently train on other batches: refused, naming the field
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "config.json").write_text((tmp_path / "a" / "config.json").read_text())
    with pytest.raises(runfiles.RunError, match=r"started with other settings \(lr: \S+ -> \S+\); resuming would make it two runs"):
        train(_cfg(student, lr=1e-3), tmp_path / "d", resume=True, progress=False, log=quiet)


def test_cli_traces_errors_exit_2_and_skip_bad_lines_reports_the_count(student, tmp_path):
    from typer.testing import CliRunner

    from priorlab.cli import app

    f = tmp_path / "t.jsonl"
    f.write_text(json.dumps({"problem": "3+5", "completion": "A: 8"}) + "\nnot json\n")
    base = ["sft", "--init", student, "--traces", f, "--steps", 2, "--batch-size", 4, "--eval-problems", 4,
            "--eval-samples", 1, "--max-new-tokens", 24, "--quiet"]
    proc = run_cli(*base, "--out", tmp_path / "x", check=False)  # a fresh interpreter, as a user runs it
    assert proc.returncode == 2 and "t.jsonl:2: invalid JSON" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()  # nothing half-written
    runner = CliRunner()
    r = runner.invoke(app, ["sft", "--init", str(student), "--out", str(tmp_path / "y")])
    assert r.exit_code == 2 and r.stderr.startswith("error: give exactly one of --traces")
    r = runner.invoke(app, [*map(str, base), "--skip-bad-lines", "--out", str(tmp_path / "ok")])
    assert r.exit_code == 0 and "1 malformed lines skipped" in r.stdout
    data = json.loads((tmp_path / "ok" / "summary.json").read_text())["data"]
    assert data["skipped_lines"] == 1 and data["examples"] == 1 and data["source"] == "traces"
