"""Stage configs refuse nan and inf in every float setting, naming the option."""

import dataclasses
import math

import pytest

from priorlab.common.config import AdamWConfig
from priorlab.evals.math_eval import HFEvalConfig
from priorlab.evals.world_eval import EvalConfig
from priorlab.math.data import DataSpec
from priorlab.pretrain import PretrainConfig
from priorlab.rl.loop import RLConfig
from priorlab.sft.loop import SFTConfig
from priorlab.sft.srl import SRLConfig

VALID = {
    PretrainConfig: {},
    RLConfig: {"init": "runs/pt"},
    SFTConfig: {"init": "runs/pt", "teacher_format": "code"},
    SRLConfig: {"init": "runs/pt"},
    EvalConfig: {},
    HFEvalConfig: {"model": "hf:m", "data": DataSpec("x.jsonl")},
    AdamWConfig: {},
}
FLOATS = [(cls, f.name) for cls in VALID for f in dataclasses.fields(cls)
          if isinstance(getattr(cls(**VALID[cls]), f.name), float)]


def test_every_stage_has_float_settings_to_check():
    assert {cls for cls, _ in FLOATS} == set(VALID)
    assert (RLConfig, "temperature") in FLOATS and (PretrainConfig, "lr") in FLOATS


@pytest.mark.parametrize("cls,name", FLOATS, ids=[f"{c.__name__}.{n}" for c, n in FLOATS])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_are_refused_naming_the_option(cls, name, bad):
    with pytest.raises(ValueError, match=rf"^--{name.replace('_', '-')} must be a finite number, got {bad}$"):
        cls(**{**VALID[cls], name: bad})


@pytest.mark.parametrize("name", ["kl_beta", "eps_low", "eps_high", "entropy_coef", "hicra_alpha", "w_lambda"])
def test_algorithm_overrides_refuse_nan(name):
    overrides = (("sign", "weighted"), ("baseline", "none"), (name, math.nan)) if name == "w_lambda" else ((name, math.nan),)
    with pytest.raises(ValueError, match=rf"--{name.replace('_', '-')} must be a finite number, got nan"):
        RLConfig(init="runs/pt", overrides=overrides)


def test_adam_betas_refuse_inf():
    with pytest.raises(ValueError, match=r"--betas must be a finite number, got \(0.9, inf\)"):
        AdamWConfig(betas=(0.9, math.inf))
