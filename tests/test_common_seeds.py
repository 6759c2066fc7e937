import pytest

from priorlab.common.seeds import derive


def test_offsets_and_indexed_streams_by_hand():
    assert derive(0, "base-samples") == 7919  # 0 + 7919
    assert derive(3, "eval") == 104732  # 3 + 104729
    assert derive(2, "step", 5) == 2_000_011  # 2 * 1,000,003 + 5
    assert derive(0, "epoch", 7) == 7
    assert derive(1, "chunk", 0) == 1_000_003


def test_distinct_seeds_and_steps_do_not_collide():
    seen = {derive(s, "step", i) for s in range(20) for i in range(500)}
    assert len(seen) == 20 * 500


@pytest.mark.parametrize("purpose, idx", [("eval", (1,)), ("step", ()), ("step", (1, 2)), ("nope", ())])
def test_wrong_use_is_an_error(purpose, idx):
    with pytest.raises(ValueError, match="seed purpose"):
        derive(0, purpose, *idx)
