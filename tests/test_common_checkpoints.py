"""Checkpoints: weights and state round-trip; state.pt is loaded without running code."""

import pytest
import torch

from priorlab.common import checkpoints
from priorlab.common.runfiles import RunError


class RunsCode:
    """Unpickling this calls exec: what a hostile state.pt would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def test_checkpoint_round_trip_restores_weights_optimizer_and_rng(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    ckpt = checkpoints.save_checkpoint(tmp_path, 7, model, opt, {"stage": "test"}, {"step": 7})
    expected_next = torch.rand(3)  # the draw after the saved RNG state
    other = torch.nn.Linear(3, 2)
    other_opt = torch.optim.AdamW(other.parameters(), lr=0.1)
    assert checkpoints.restore(ckpt, other, other_opt) == 7
    assert torch.equal(other.weight, model.weight)
    assert torch.equal(other_opt.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert torch.equal(torch.rand(3), expected_next)


def test_a_state_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    torch.save({"optimizer": RunsCode(marker), "step": 1}, tmp_path / "state.pt")
    with pytest.raises(RunError, match=r"state.pt: refused: it calls exec when loaded, which could run code"):
        checkpoints.load_state(tmp_path)
    assert not marker.exists()


def test_a_corrupt_state_is_one_clear_error(tmp_path):
    (tmp_path / "state.pt").write_bytes(b"not a checkpoint" * 10)
    with pytest.raises(RunError, match=r"state.pt: unreadable checkpoint state, truncated or corrupt$"):
        checkpoints.load_state(tmp_path)


def test_truncated_weights_name_the_file(tmp_path):
    model = torch.nn.Linear(3, 2)
    checkpoints.save_weights(tmp_path, model, {})
    blob = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(blob[:20])
    with pytest.raises(RunError, match=r"model.safetensors: not a readable safetensors file, truncated or corrupt"):
        checkpoints.load_weights(tmp_path)
