import json

import pytest

pytest.importorskip("transformers")
import torch

from priorlab.model.hf.load import load_hf
from priorlab.sft.hf_loop import batch_indices, make_batch, sft_loss
from tests.tiny_hf import cli, save_tiny_qwen

ROWS = [{"problem": "1+1=?", "answer": "2", "solution": "\\boxed{2}"},
        {"problem": "2+2=?", "answer": "4", "solution": "\\boxed{4}"}]


def test_batch_layout_and_loss_is_the_target_token_mean_nll(tmp_path):
    lm = load_hf(save_tiny_qwen(tmp_path / "q"))
    pairs = [([5, 6, 7], [8, 0]), ([9], [10, 11, 0])]
    ids, attn, target = make_batch(pairs, lm.pad_id)
    assert ids.tolist() == [[5, 6, 7, 8, 0], [9, 10, 11, 0, 1]]  # right-padded with pad (1)
    assert target.tolist() == [[False, False, False, True, True], [False, True, True, True, False]]
    with torch.no_grad():
        loss = sft_loss(lm.model, ids, attn, target)
        # by hand: the 5 target tokens, each predicted by the logits one position earlier, one sequence at a time
        nll = []
        for seq, tgt_start in (([5, 6, 7, 8, 0], 3), ([9, 10, 11, 0], 1)):
            logp = torch.log_softmax(lm.model(torch.tensor([seq])).logits[0], -1)
            nll += [-logp[t - 1, seq[t]] for t in range(tgt_start, len(seq))]
    assert float(loss) == pytest.approx(float(sum(nll) / 5), abs=1e-5)


def test_batches_cover_each_epoch_once():
    seen = [i for step in range(3) for i in batch_indices(6, step, seed=0, batch_size=2)]
    assert sorted(seen) == list(range(6))  # steps 0-2 = epoch 0 exactly
    assert batch_indices(6, 1, 0, 4)[2:] != [] and len(batch_indices(6, 1, 0, 4)) == 4  # crosses into epoch 1
    assert batch_indices(6, 0, 0, 2) == batch_indices(6, 0, 0, 2)


def test_sft_learns_the_solutions_then_eval_finds_them(tmp_path):
    base = save_tiny_qwen(tmp_path / "base")
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    r, out = cli("sft", "--model", f"hf:{base}", "--data", data, "--steps", 40, "--lr", 1e-2, "--batch-size", 2,
                 "--warmup-steps", 0, "--out", tmp_path / "sft")
    assert r.exit_code == 0, out
    s = json.loads((tmp_path / "sft" / "summary.json").read_text())
    assert s["loss/sft/last"] < 0.1 < s["loss/sft/first"]
    r, out = cli("eval", "--model", f"hf:{tmp_path / 'sft'}", "--data", data, "--samples", 4, "--temperature", 0.5,
                 "--max-new-tokens", 12, "--n-boot", 10, "--out", tmp_path / "ev")
    assert r.exit_code == 0, out
    ev = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert ev["pass@1"] >= 0.75 and ev["status_counts"]["ok"] == 8  # graded by Math-Verify's integer path


def test_missing_solution_field_is_named(tmp_path):
    base = save_tiny_qwen(tmp_path / "base")
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"problem": "1+1=?", "answer": "2"}) + "\n")
    r, out = cli("sft", "--model", f"hf:{base}", "--data", data, "--steps", 1, "--out", tmp_path / "sft")
    assert r.exit_code == 2 and "no solution field 'solution'" in out and "Traceback" not in out
