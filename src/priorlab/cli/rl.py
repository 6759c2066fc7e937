"""`priorlab rl`: RLVR from a pretrained prior, or from a Hugging Face checkpoint on a data file
(library: `priorlab.rl.loop`, one loop for both).

    priorlab rl --init runs/pt --reward random:0.5 --algo grpo --steps 60 --out runs/rl-rand
    priorlab rl --init runs/pt --algo nsr --eps-high 0.28 --out runs/rl-nsr     # a preset, one option changed
    priorlab rl --init hf:models/Qwen2.5-Math-1.5B --data math_train.jsonl --lr 1e-6 --out runs/qwen-rl

`--algo` picks a preset of `priorlab.rl.algos`; the "Algorithm overrides" options change its fields one
by one, and only the ones given reach the config (`algo_overrides`).
"""

from pathlib import Path
from typing import Any

import typer

from priorlab.cli import configfile, options, render
from priorlab.cli.app import app, log
from priorlab.cli.errors import cli_errors
from priorlab.cli.options import ALGO, HF, RUN, WORLD
from priorlab.common import memory
from priorlab.math.data import DataSpec
from priorlab.model.hf.load import is_hf_ref


def algo_overrides(*, baseline: str | None = None, sign: str | None = None, w_lambda: float | None = None,
                   clip: bool | None = None, eps_low: float | None = None, eps_high: float | None = None,
                   agg: str | None = None, kl_beta: float | None = None, entropy_coef: float | None = None,
                   dynamic_sampling: bool | None = None, hicra_alpha: float | None = None,
                   ) -> tuple[tuple[str, object], ...]:
    """((name, value), ...) of the algorithm options given (not None), in this fixed order; the config
    (and so config.json) records them in it, and `algos.resolve_algo` applies them to the preset."""
    given = (("baseline", baseline), ("sign", sign), ("w_lambda", w_lambda), ("clip", clip), ("eps_low", eps_low),
             ("eps_high", eps_high), ("agg", agg), ("kl_beta", kl_beta), ("entropy_coef", entropy_coef),
             ("dynamic_sampling", dynamic_sampling), ("hicra_alpha", hicra_alpha))
    return tuple((name, value) for name, value in given if value is not None)


@app.command()
@cli_errors
def rl(
    init: str = typer.Option(..., "--init", "--model", help="pretrained (or SFT) run directory to start from, or "
                             "a Hugging Face checkpoint (hf:PATH or a directory with config.json; then --data)",
                             rich_help_panel=RUN),
    out: Path = typer.Option(..., help="run directory", rich_help_panel=RUN),
    reward: str = typer.Option("correct", help="reward spec, e.g. correct, random:0.5, incorrect, format, "
                               "majority, brier, correct+length:0.001", rich_help_panel=RUN),
    algo: str = typer.Option("grpo", help="grpo, dr_grpo, dapo, rloo, reinforce, psr, nsr, w_reinforce, hicra",
                             rich_help_panel=RUN),
    steps: int = typer.Option(60, help="RL steps (one rollout batch each)", rich_help_panel=RUN),
    seed: int = typer.Option(0, help="run seed: problems, rollouts and random rewards derive from it",
                             rich_help_panel=RUN),
    prompts_per_step: int = typer.Option(16, help="P prompts per step", rich_help_panel=RUN),
    group_size: int = typer.Option(8, help="G completions per prompt", rich_help_panel=RUN),
    minibatches: int = typer.Option(4, help="mini-batches per rollout batch (>1 moves the ratio off 1)",
                                    rich_help_panel=RUN),
    epochs: int = typer.Option(1, help="passes over each rollout batch", rich_help_panel=RUN),
    lr: float = typer.Option(3e-5, help="AdamW learning rate", rich_help_panel=RUN),
    temperature: float = typer.Option(1.0, help="sampling temperature of the rollouts", rich_help_panel=RUN),
    max_new_tokens: int = typer.Option(96, help="generation budget per completion, in tokens", rich_help_panel=RUN),
    eval_every: int = typer.Option(20, help="steps between held-out evaluations (eval/* metrics)",
                                   rich_help_panel=RUN),
    eval_problems: int = typer.Option(100, help="held-out problems per evaluation (per difficulty; HF models: "
                                      "the first N of --eval-data)", rich_help_panel=RUN),
    ckpt_every: int = typer.Option(20, help="steps between checkpoints", rich_help_panel=RUN),
    resume: bool = typer.Option(False, help="continue an interrupted run from its last checkpoint",
                                rich_help_panel=RUN),
    quiet: bool = typer.Option(False, help="no progress bar", rich_help_panel=RUN),
    force: bool = typer.Option(False, "--force", help="run even if the memory estimate exceeds the memory available", rich_help_panel=RUN),
    config: Path | None = configfile.option(RUN),
    report_to: str | None = options.report_to(RUN),
    difficulty: str = typer.Option("3x1", help="comma list of NxD the training problems are drawn from",
                                   rich_help_panel=WORLD),
    train_problems: int = typer.Option(0, help="0 = fresh problems each step; K = fixed pool; 1 = one-shot",
                                       rich_help_panel=WORLD),
    one_shot_rule: str = typer.Option("pass-rate", help="pass-rate (base pass rate closest to .5) or first",
                                      rich_help_panel=WORLD),
    store_rollouts: bool = typer.Option(False, help="write rollouts/step_N.parquet every step",
                                        rich_help_panel=RUN),
    label_samples: int | None = typer.Option(None, help="base-model samples per problem behind the `incorrect` "
                                             "labels and the one-shot choice (default 16; HF models 8)",
                                             rich_help_panel=RUN),
    data: str | None = typer.Option(None, help="HF models: JSONL/Parquet training problems (MATH, GSM8K, AIME)",
                                    rich_help_panel=HF),
    layout: str = options.LAYOUT,
    question_field: str | None = options.QUESTION_FIELD,
    answer_field: str | None = options.ANSWER_FIELD,
    skip_bad: bool = options.SKIP_BAD,
    limit: int | None = options.LIMIT,
    eval_data: str | None = typer.Option(None, help="HF models: held-out problems for eval/* (same layout options)",
                                         rich_help_panel=HF),
    template: str = options.TEMPLATE,
    dtype: str = typer.Option("float32", help="HF weights while training: float32, bfloat16, float16, auto",
                              rich_help_panel=HF),
    device: str = options.DEVICE,
    top_p: float = typer.Option(1.0, help="HF models: nucleus sampling of the rollouts", rich_help_panel=HF),
    batch_size: int = typer.Option(64, help="HF models: sequences per generate call / no-grad forward",
                                   rich_help_panel=HF),
    baseline: str | None = typer.Option(None, help="override: mean_std, mean_std_sample, mean, rloo, none",
                                        rich_help_panel=ALGO),
    sign: str | None = typer.Option(None, help="override: all, positive (PSR), negative (NSR), weighted",
                                    rich_help_panel=ALGO),
    w_lambda: float | None = typer.Option(None, help="override: weight on positive samples (--sign weighted)",
                                          rich_help_panel=ALGO),
    clip: bool | None = typer.Option(None, "--clip/--no-clip", help="override: PPO ratio clipping on or off",
                                     rich_help_panel=ALGO),
    eps_low: float | None = typer.Option(None, help="override: the ratio is clipped below at 1 - eps_low",
                                         rich_help_panel=ALGO),
    eps_high: float | None = typer.Option(None, help="override: the ratio is clipped above at 1 + eps_high",
                                          rich_help_panel=ALGO),
    agg: str | None = typer.Option(None, help="override: seq_mean, token_mean, constant", rich_help_panel=ALGO),
    kl_beta: float | None = typer.Option(None, help="override: weight of the k3 KL to the initial policy",
                                         rich_help_panel=ALGO),
    entropy_coef: float | None = typer.Option(None, help="override: weight of the entropy bonus",
                                              rich_help_panel=ALGO),
    dynamic_sampling: bool | None = typer.Option(None, "--dynamic-sampling/--no-dynamic-sampling",
                                                 help="override: drop groups whose rewards are all equal (DAPO)",
                                                 rich_help_panel=ALGO),
    hicra_alpha: float | None = typer.Option(None, help="override: HICRA's alpha, advantage + alpha x |advantage| "
                                             "on planning tokens (0 = off)", rich_help_panel=ALGO),
    ref_reset_every: int = typer.Option(0, help="ProRL: every N steps the KL reference becomes the current policy "
                                        "and the optimizer state restarts (0 = never)", rich_help_panel=WORLD),
):
    """RLVR from a pretrained prior: sample, score, advantages, update, evaluate, log, checkpoint."""
    overrides = algo_overrides(baseline=baseline, sign=sign, w_lambda=w_lambda, clip=clip, eps_low=eps_low,
                               eps_high=eps_high, agg=agg, kl_beta=kl_beta, entropy_coef=entropy_coef,
                               dynamic_sampling=dynamic_sampling, hicra_alpha=hicra_alpha)
    from priorlab.rl.loop import RLConfig, train  # imports torch (~1.5 s): only when the command runs

    hf = is_hf_ref(init)  # RLConfig checks that --init and --data go together
    hf_fields: dict[str, Any] = dict(data=DataSpec(data, layout, question_field, answer_field, None, skip_bad, limit) if data else None,
                     eval_data=DataSpec(eval_data, layout, question_field, answer_field, None, skip_bad,
                                        eval_problems) if eval_data else None,
                     **(dict(template=template, top_p=top_p, dtype=dtype, device=device, batch_size=batch_size)
                        if hf else {}))  # the HF-only options reach a world run's config as their defaults
    cfg = RLConfig(init=str(init), reward=reward, algo=algo, steps=steps, seed=seed, prompts_per_step=prompts_per_step,
                   group_size=group_size, minibatches=minibatches, epochs=epochs, lr=lr, temperature=temperature,
                   max_new_tokens=max_new_tokens, difficulty=difficulty, train_problems=train_problems,
                   one_shot_rule=one_shot_rule, eval_every=eval_every, eval_problems=eval_problems,
                   ckpt_every=ckpt_every, store_rollouts=store_rollouts, overrides=overrides,
                   ref_reset_every=ref_reset_every, label_samples=label_samples or (8 if hf else 16), **hf_fields)
    cfg = configfile.apply(cfg)
    if not hf and (Path(init) / "model.json").is_file():  # a missing model is the library's error to give
        from priorlab.lab import footprint

        memory.check(footprint.rl(cfg, footprint.model_config(init)), "rl", force=force, hint=footprint.HINTS["rl"])
    summary = train(cfg, out, resume=resume, progress=not quiet, log=log)
    render.hf_rl_done(summary) if hf else render.rl_done(summary, out)
