"""Memory checks: the activation formula by hand, the budget override, the refusal naming what it needs."""

import pytest

from priorlab.common import memory
from priorlab.common.runfiles import RunError


def test_activation_bytes_by_hand():
    # one layer, s=4, b=2, h=8, a=2, V=10: 2 * 4*2*8 * (34 + 5*2*4/8) = 128 * 39 = 4992 bytes;
    # logits 3 * 2*4*10 * 4 = 960 bytes
    assert memory.activation_bytes(batch=2, seq=4, n_layer=1, n_embd=8, n_head=2, vocab=10) == 4992 + 960
    assert memory.activation_bytes(batch=2, seq=4, n_layer=3, n_embd=8, n_head=2, vocab=10) == 3 * 4992 + 960


def test_training_state_is_sixteen_bytes_a_parameter_plus_a_reference_copy():
    assert memory.training_state_bytes(1000) == 16_000  # weights, gradients, two AdamW moments in fp32
    assert memory.training_state_bytes(1000, ref_model=True) == 20_000


def test_check_refuses_what_does_not_fit_unless_forced(monkeypatch):
    monkeypatch.setenv("PRIORLAB_MEMORY_BYTES", str(3 * 1024**3))
    assert memory.available_bytes() == 3 * 1024**3
    memory.check({"a": 1024**3, "b": 1024**3}, "job")  # 2 GiB of 3: fits
    with pytest.raises(RunError, match=r"^job would need about 4.0 GiB of memory \(b 3.0 GiB, a 1.0 GiB\); 3.0 GiB "
                                       r"is available; lower --x; --force runs it anyway$"):
        memory.check({"a": 1024**3, "b": 3 * 1024**3}, "job", hint="lower --x")
    memory.check({"a": 1024**5}, "job", force=True)


def test_available_memory_without_an_override_is_positive(monkeypatch):
    monkeypatch.delenv("PRIORLAB_MEMORY_BYTES", raising=False)
    assert memory.available_bytes() > 0


def test_human_units():
    assert [memory.human(n) for n in (512, 1536, 5 * 1024**3, 2 * 1024**5)] == ["512 B", "1.5 KiB", "5.0 GiB",
                                                                                 "2.0 PiB"]
