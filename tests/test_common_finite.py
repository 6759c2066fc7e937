"""Nothing non-finite is trained on or written: the step check, the weight check before every save."""

import pytest
import torch

from priorlab.common import checkpoints, finite


def test_check_step_names_the_loss_or_the_gradient():
    finite.check_step(torch.tensor(1.5), torch.tensor(3.0), 7)  # finite: nothing happens
    with pytest.raises(finite.NonFiniteError, match=r"^non-finite loss at step 7; lower --lr$"):
        finite.check_step(torch.tensor(float("nan")), None, 7)
    with pytest.raises(finite.NonFiniteError, match=r"^non-finite gradient at step 2 \(loss 1.5\); lower --lr$"):
        finite.check_step(torch.tensor(1.5), torch.tensor(float("inf")), 2)


def test_non_finite_weights_are_never_saved(tmp_path):
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.bias[1] = float("inf")
    with pytest.raises(finite.NonFiniteError, match=r"non-finite weights in bias, not saved as checkpoint step 3"):
        checkpoints.save_checkpoint(tmp_path, 3, model, None, {})
    with pytest.raises(finite.NonFiniteError, match=rf"non-finite weights in bias, not saved as {tmp_path}/final"):
        checkpoints.save_weights(tmp_path / "final", model, {})
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a folder


def test_the_hf_writer_refuses_non_finite_weights(tmp_path):
    from priorlab.model.hf.checkpoint import save_hf

    class LM:  # what save_hf reads of a loaded model: the weights are checked before anything is written
        model = torch.nn.Linear(2, 2)

    with torch.no_grad():
        LM.model.weight[0, 0] = float("nan")
    with pytest.raises(finite.NonFiniteError, match=r"non-finite weights in weight, not saved as .*step_00000004"):
        save_hf(tmp_path / "checkpoints" / "step_00000004", LM())
    assert not (tmp_path / "checkpoints").exists()
