"""Memory footprints of the stages, from their configs alone, before anything is built: the large terms of
each one's peak, for `common.memory.check` (the CLI refuses a job that cannot fit; --force overrides) and for
a sweep's workers (`lab.sweep.Job.memory`). Controlled-world models only: a Hugging Face run is not estimated.

    parts = footprint.pretrain(cfg, load_mixture(cfg.mixture))   # {"corpus": ..., "activations": ...}
    memory.check(parts, "pretrain", force=False, hint=footprint.HINTS["pretrain"])

Per-item sizes (measured on CPython 3.11, numpy 1.26, torch 2.x):
- a corpus token is 9 bytes while the corpus is built (a Python list slot, then the uint8 stream), a document
  16 more (its start offset, list and array);
- a sampled completion kept for evaluation is ~1250 bytes + 16 a token (its dict, text, token types and the
  float32 entropies and log-probs: 1947 bytes measured for 68 tokens);
- a rollout token is ~24 bytes of tensors (ids, masks, log-probs, entropies).
"""

from __future__ import annotations

import math

from priorlab.common.memory import FP32, activation_bytes, training_state_bytes
from priorlab.model.gpt import GPTConfig, config_for_size, param_count
from priorlab.world.tasks import parse_difficulties
from priorlab.world.tokenizer import Tokenizer

TOKEN_BUILD_BYTES, DOCUMENT_BYTES = 9, 16
COMPLETION_BYTES, COMPLETION_TOKEN_BYTES = 1250, 16
ROLLOUT_TOKEN_BYTES = 24
PROMPT_TOKENS = 32  # the longest world prompt, `<bos>Q: 123+456-...=?\n` with 6 operands of 3 digits
SRL_PREFIX_TOKENS = 128  # an SRL prompt holds the problem and the expert's steps so far
HINTS = {
    "pretrain": "lower --batch-size or --seq-len, or the mixture's documents",
    "eval": "lower --problems, --samples or --max-new-tokens",
    "rl": "lower --prompts-per-step, --group-size, --max-new-tokens or --eval-problems",
    "sft": "lower --batch-size, --problems or --eval-problems",
    "srl": "lower --prompts-per-step, --group-size or --eval-problems",
}


def kv_cache_bytes(g: GPTConfig, rows: int, seq: int) -> int:
    """Keys and values of a sampling cache: 2 x layers x rows x seq x n_embd fp32 numbers."""
    return 2 * g.n_layer * rows * seq * g.n_embd * FP32


def completions_bytes(n: int, max_new_tokens: int) -> int:
    """n sampled completions kept for evaluation (at most max_new_tokens each)."""
    return n * (COMPLETION_BYTES + COMPLETION_TOKEN_BYTES * max_new_tokens)


def _activations(g: GPTConfig, rows: int, seq: int) -> int:
    return activation_bytes(rows, seq, g.n_layer, g.n_embd, g.n_head, g.vocab_size)


def evaluation(g: GPTConfig, problems: int, difficulty: str, samples: int, max_new_tokens: int, batch_size: int,
               models: int = 1) -> dict[str, int]:
    """Sampling `samples` completions of `problems` per difficulty, kept in memory for the metrics."""
    n = problems * len(parse_difficulties(difficulty)) * samples
    return {"samples kept": models * completions_bytes(n, max_new_tokens),
            "sampling cache": kv_cache_bytes(g, min(batch_size, n), PROMPT_TOKENS + max_new_tokens)}


def pretrain(cfg, mix) -> dict[str, int]:
    """The corpus as it is built (its mean document length measured on its first 200 documents), the model
    with its gradients and AdamW's moments, one batch's activations."""
    from priorlab.pretrain import BLOCK_SIZE
    from priorlab.world.corpus import documents

    tok = Tokenizer()
    lengths = [len(tok.encode(text, bos=True, eos=True)) for _, _, text in documents(mix, cfg.seed, n=min(200, mix.documents))]
    per_doc = sum(lengths) / len(lengths)
    g = config_for_size(cfg.size, tok.vocab_size, BLOCK_SIZE)
    return {"corpus": int(mix.documents * (per_doc * TOKEN_BUILD_BYTES + DOCUMENT_BYTES)),
            "held-out corpus": int(cfg.val_documents * (per_doc * TOKEN_BUILD_BYTES + DOCUMENT_BYTES)),
            "model and optimizer": training_state_bytes(param_count(g)),
            "activations": _activations(g, cfg.batch_size, cfg.seq_len)}


def rl(cfg, g: GPTConfig) -> dict[str, int]:
    """One rollout batch (P x G rows of prompt + max_new_tokens), its sampling cache, one mini-batch's
    activations, the model and optimizer (+ a reference copy with a KL term) and an evaluation's samples."""
    rows, seq = cfg.prompts_per_step * cfg.group_size, PROMPT_TOKENS + cfg.max_new_tokens
    return {"model and optimizer": training_state_bytes(param_count(g), ref_model=cfg.algo_config().kl_beta > 0),
            "rollouts": rows * seq * ROLLOUT_TOKEN_BYTES, "sampling cache": kv_cache_bytes(g, rows, seq),
            "activations": _activations(g, math.ceil(rows / cfg.minibatches), seq),
            "evaluation samples": completions_bytes(
                cfg.eval_problems * len(parse_difficulties(cfg.difficulty)) * cfg.eval_samples, cfg.max_new_tokens)}


def srl(cfg, g: GPTConfig) -> dict[str, int]:
    """As `rl`, with rows of an expert prefix + one sampled step."""
    rows, seq = cfg.prompts_per_step * cfg.group_size, SRL_PREFIX_TOKENS + cfg.step_max_tokens
    return {"model and optimizer": training_state_bytes(param_count(g)),
            "rollouts": rows * seq * ROLLOUT_TOKEN_BYTES, "sampling cache": kv_cache_bytes(g, rows, seq),
            "activations": _activations(g, math.ceil(rows / cfg.minibatches), seq),
            "evaluation samples": completions_bytes(
                cfg.eval_problems * len(parse_difficulties(cfg.difficulty)) * cfg.eval_samples, cfg.max_new_tokens)}


def sft(cfg, g: GPTConfig) -> dict[str, int]:
    """One batch of whole examples (up to the model's block size), the model and optimizer, the teacher
    traces and an evaluation's samples."""
    return {"model and optimizer": training_state_bytes(param_count(g)),
            "activations": _activations(g, cfg.batch_size, g.block_size),
            "examples": cfg.problems * COMPLETION_BYTES,
            "evaluation samples": completions_bytes(
                cfg.eval_problems * len(parse_difficulties(cfg.eval_difficulty)) * cfg.eval_samples,
                cfg.max_new_tokens)}


def model_config(run_dir) -> GPTConfig:
    """The GPTConfig of a priorlab run or checkpoint directory (its model.json)."""
    from priorlab.common.runfiles import read_json

    return GPTConfig(**read_json(f"{run_dir}/model.json")["model_config"])
