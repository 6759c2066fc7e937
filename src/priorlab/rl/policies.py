"""RL policies: what the loop samples from, scores and saves. One per kind of model.

    policy = WorldPolicy.load("runs/pt")                    # the controlled world's tiny GPT
    policy = HFPolicy.load("hf:models/qwen", cfg)           # a Hugging Face causal LM
    ids = policy.encode(["Q: 3+5=?\n"])                     # prompt texts -> token ids
    ro = policy.rollout(ids, group_size=8, max_new_tokens=96, temperature=1.0, top_p=1.0, seed=s)
    logp, ent = policy.logprobs(policy.model, ro.input_ids, ro.attn_mask, ro.completion_mask, temperature=1.0)

A policy also owns its checkpoints (`restore`, `save_checkpoint`, `save_final`): a world run keeps
`checkpoints/step_N/` (weights, optimizer, RNG) with step 0, an HF run `save_pretrained` folders with
`state.pt` and the final model in `OUT/model/`. Both resume bitwise on CPU. The SFT loop (`sft.loop`)
trains the same policies and uses their checkpoints (`WorldPolicy.load(init, stage="sft")`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from priorlab.common import checkpoints
from priorlab.math.prompts import add_special_tokens, render
from priorlab.model.checkpoint import load_model
from priorlab.model.completions import Rollouts
from priorlab.model.hf.checkpoint import resume_optimizer, save_hf
from priorlab.model.hf.generate import encode_prompts, hf_rollout, sequence_logprobs_hf
from priorlab.model.hf.load import RUN_MODEL_DIR, load_hf
from priorlab.model.sampling import sequence_logprobs
from priorlab.rl.rollout import rollout
from priorlab.world.tokenizer import Tokenizer


class WorldPolicy:
    """The tiny GPT: sampled with priorlab's sampler (in eval mode, trained in train mode); old log-probs of
    the rows past the first mini-batch are recomputed with a forward pass (`old_logprobs` is None)."""

    kind = "world"
    keeps_step0 = True  # checkpoints/step_0 is written: the analyses diff it

    def __init__(self, model, meta: dict, tokenizer: Tokenizer | None = None, *, stage: str = "rl"):
        self.model, self.tok = model, tokenizer or Tokenizer()
        self.meta = {**{k: v for k, v in meta.items() if k not in ("step", "code_version")}, "stage": stage}

    @classmethod
    def load(cls, init: str, cfg=None, ckpt: Path | None = None, *, stage: str = "rl") -> WorldPolicy:
        """From a run directory (`init`); a checkpoint to resume from is loaded later by `restore`. `stage`
        names the training stage in the checkpoints' model.json (`rl`, `sft`, `srl`)."""
        model, meta = load_model(init)
        model.train()
        policy = cls(model, meta, stage=stage)
        policy.meta["init"] = str(init)
        return policy

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Texts as the world tokenizer's ids, each starting with <bos>."""
        return [self.tok.encode(t, bos=True) for t in texts]

    def rollout(self, prompt_ids: list[list[int]], *, group_size: int, max_new_tokens: int, temperature: float,
                top_p: float, seed: int) -> Rollouts:
        """`group_size` completions per prompt from the world sampler (eval mode while sampling), seeded by `seed`."""
        gen = torch.Generator().manual_seed(seed)
        self.model.eval()
        ro = rollout(self.model, prompt_ids, group_size=group_size, max_new_tokens=max_new_tokens,
                     temperature=temperature, top_p=top_p, generator=gen, tokenizer=self.tok)
        self.model.train()
        return ro

    @staticmethod
    def logprobs(model, input_ids, attn_mask, mask, *, temperature=1.0):
        """Per-token log-probs of the completion tokens `mask` under `model` (differentiable; a full forward)."""
        return sequence_logprobs(model, input_ids, attn_mask, None, mask, temperature=temperature)

    @staticmethod
    def old_logprobs(ro: Rollouts) -> None:
        """None: the old log-probs are recomputed with a full forward (the sampler's are kept for the entropy
        metrics)."""
        return None  # recomputed with a full forward: the sampler's are kept for the entropy metrics

    def config(self) -> dict:
        """Nothing to add to the run's config.json."""
        return {}

    def restore(self, ckpt: Path | None, opt, out: Path, log) -> int:
        """Load weights and optimizer state from `ckpt` (when resuming); the step to continue from (0 without one)."""
        if ckpt is None:
            return 0
        start = checkpoints.restore(ckpt, self.model, opt)
        log(f"resuming {out} from step {start}")
        return start

    def save_checkpoint(self, out: Path, step: int, opt) -> None:
        """A resumable checkpoint (weights, optimizer, step) under out/checkpoints/step_N."""
        checkpoints.save_checkpoint(out, step, self.model, opt, self.meta, {"step": step})

    def save_final(self, out: Path, step: int) -> dict:
        """The final weights in the run directory (model.safetensors + model.json); no extra summary fields."""
        checkpoints.save_weights(out, self.model, {**self.meta, "step": step})
        return {}


class HFPolicy:
    """A Hugging Face causal LM (`model.hf.load.HFModel`): sampled with `generate`, which also returns the
    old log-probs (saving a no-grad forward of a large model); it stays in eval mode (dropout off, as in
    TRL's GRPOTrainer), so the sampling policy and the differentiated one are the same function."""

    kind = "hf"
    keeps_step0 = False  # the base checkpoint is already on disk: diff against it

    def __init__(self, lm, cfg):
        self.lm, self.model, self.cfg = lm, lm.model, cfg

    @classmethod
    def load(cls, init: str, cfg, ckpt: Path | None = None) -> HFPolicy:
        """From `ckpt` when resuming (weights and all), else from `init`."""
        return cls(load_hf(ckpt if ckpt is not None else init, dtype=cfg.dtype, device=cfg.device), cfg)

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Texts rendered with the prompt template and tokenized by the model's tokenizer."""
        rendered = [render(t, self.cfg.template, self.lm.tokenizer) for t in texts]
        return encode_prompts(self.lm, rendered, add_special_tokens(self.cfg.template))

    def rollout(self, prompt_ids: list[list[int]], *, group_size: int, max_new_tokens: int, temperature: float,
                top_p: float, seed: int) -> Rollouts:
        """`group_size` completions per prompt with batched `generate`, with the sampling log-probs."""
        return hf_rollout(self.lm, prompt_ids, n=group_size, max_new_tokens=max_new_tokens, temperature=temperature,
                          top_p=top_p, seed=seed, batch_size=self.cfg.batch_size, logprobs=True)

    @staticmethod
    def logprobs(model, input_ids, attn_mask, mask, *, temperature=1.0):
        """Per-token log-probs of the completion tokens `mask` under the HF model (differentiable)."""
        return sequence_logprobs_hf(model, input_ids, attn_mask, mask, temperature=temperature)

    @staticmethod
    def old_logprobs(ro: Rollouts) -> torch.Tensor:
        """The sampling log-probs `generate` returned (no extra no-grad forward)."""
        if ro.logprobs is None:
            raise ValueError("HF rollouts carry no sampling log-probs: generate with them")
        return ro.logprobs

    def config(self) -> dict:
        """The backend and where the pad token came from, for config.json."""
        return {"backend": "hf", "pad_source": self.lm.pad_source}

    def restore(self, ckpt: Path | None, opt, out: Path, log) -> int:
        """The optimizer state and step of `ckpt` when resuming (the weights came with `load`); 0 without one."""
        return resume_optimizer(ckpt, opt, out, log)

    def save_checkpoint(self, out: Path, step: int, opt) -> None:
        """An HF checkpoint folder with the optimizer state and step under out/checkpoints/step_N."""
        save_hf(out / "checkpoints" / f"step_{step:08d}", self.lm, {"optimizer": opt.state_dict(), "step": step})

    def save_final(self, out: Path, step: int) -> dict:
        """The final model as an HF checkpoint in out/model; its path for the summary."""
        save_hf(out / RUN_MODEL_DIR, self.lm)
        return {"backend": "hf", "model": str(out / RUN_MODEL_DIR)}
