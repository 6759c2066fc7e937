"""How the released trainers call a reward function, reproduced from their source for the adapter tests.

verl 0.9.1 and OpenRLHF 0.11.2 do not install on this CPU machine next to the test environment (verl pins
transformers<5.11, OpenRLHF pins transformers==5.15, deepspeed and flash-attn), so their calling code is
reproduced here line for line where it touches the reward, citing the file it comes from (read in the released
wheels). TRL 1.16 installs, so its own sampler and accelerate's process sharding are used directly.
"""

from __future__ import annotations

import asyncio
import threading
from functools import partial

# ------------------------------------------------------------------------------------------ verl 0.9.1


def _call_with_kwargs(raw_fn, extra_kwargs, *args, **kwargs):
    """verl/trainer/ppo/reward.py: reward_kwargs from the config take precedence over call-time keywords."""
    return raw_fn(*args, **{**kwargs, **extra_kwargs})


def verl_reward_loop(compute_score, samples: list[dict], reward_kwargs: dict, *, num_workers: int = 8,
                     router: bool = False) -> list[dict]:
    """verl 0.9.1's reward loop on `samples` ({data_source, response, ground_truth, extra_info}): per sample,
    what `RewardLoopWorker.run_single` hands to verl (`reward_score`, `reward_extra_info`), in sample order.

    - `get_custom_reward_fn` (trainer/ppo/reward.py): `partial(_call_with_kwargs, compute_score, reward_kwargs)`.
    - `RewardLoopManager.compute_rm_score` (experimental/reward_loop/reward_loop.py): pad the batch to a multiple
      of `reward.num_workers` (8) by repeating its head, split it into that many contiguous chunks, one per
      `RewardLoopWorker` (Ray actors, run here as threads of this process: the same grader, a stricter test).
    - `RewardLoopWorker.compute_score_batch`: an asyncio task per sample, gathered.
    - `NaiveRewardManager.run_single` (experimental/reward_loop/reward_manager/naive.py; dapo and gdpo call alike):
      extra_info gets `num_turns` and `rollout_reward_scores`; a sync compute_score runs in
      `loop.run_in_executor(None, ...)` with data_source, solution_str, ground_truth, extra_info as keywords,
      plus `reward_router_address` and `reward_model_tokenizer` when a reward router is configured; a dict
      result gives score = result["score"] and every key in reward_extra_info.
    """
    fn = partial(_call_with_kwargs, compute_score, reward_kwargs)
    extra = {"reward_router_address": "127.0.0.1:8000", "reward_model_tokenizer": object()} if router else {}
    padded = samples + [samples[i % len(samples)] for i in range(-len(samples) % num_workers)]
    size = len(padded) // num_workers
    chunks = [padded[k * size:(k + 1) * size] for k in range(num_workers)]

    async def run_single(item):
        extra_info = dict(item.get("extra_info") or {})
        extra_info["num_turns"] = None
        extra_info["rollout_reward_scores"] = {}
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, lambda: fn(data_source=item["data_source"],
                                                             solution_str=item["response"],
                                                             ground_truth=item["ground_truth"],
                                                             extra_info=extra_info, **extra))
        if isinstance(result, dict):
            return {"reward_score": result["score"], "reward_extra_info": dict(result)}
        return {"reward_score": result, "reward_extra_info": {"acc": result}}

    async def compute_score_batch(chunk):
        return await asyncio.gather(*[asyncio.create_task(run_single(item)) for item in chunk])

    outputs: list = [None] * num_workers

    def worker(k):
        try:
            outputs[k] = asyncio.run(compute_score_batch(chunks[k]))
        except Exception as e:  # noqa: BLE001 -- re-raised below, as ray.get re-raises an actor's error
            outputs[k] = e

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(num_workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in outputs:
        if isinstance(o, Exception):
            raise o
    return [x for chunk in outputs for x in chunk][:len(samples)]


def verl_batch_manager(compute_score, samples: list[dict], reward_kwargs: dict) -> list:
    """verl 0.9.1's `BatchRewardManager.verify` (verl/workers/reward_manager/batch.py), still shipped though its
    trainer no longer uses it: one call with the whole batch, data_sources a numpy array, extra_infos with
    `rollout_reward_scores` added, and the manager's reward_kwargs."""
    import numpy as np

    extras = np.array([dict(s.get("extra_info") or {}) for s in samples], dtype=object)
    for e in extras:
        e["rollout_reward_scores"] = {}
    return compute_score(data_sources=np.array([s["data_source"] for s in samples], dtype=object),
                         solution_strs=[s["response"] for s in samples],
                         ground_truths=[s["ground_truth"] for s in samples], extra_infos=extras, **reward_kwargs)


# ------------------------------------------------------------------------------------------ OpenRLHF 0.11.2


def openrlhf_single_turn(reward_func, samples: list[dict]) -> list[dict]:
    """OpenRLHF 0.11.2's `SingleTurnAgentExecutor` (openrlhf/utils/agent.py) on `samples` ({prompt, response,
    label}), every sample's `execute` running concurrently as in a rollout actor: per sample the reward fields
    of its response -- `reward`, `scores`, `extra_logs` -- after `_process_response_into_experience`
    (trainer/ppo_utils/samples_generator.py) turned them into tensors, and `error` (the exception the executor
    logs and drops, leaving no reward)."""
    import torch

    async def execute(s):
        query = s["prompt"] + s["response"]  # hf_tokenizer.decode(observation_tokens, skip_special_tokens=False)
        out = {"reward": None, "scores": None, "extra_logs": {}, "error": None}
        try:
            # _fetch_rewards_via_func: batch_size = 1, each chunk in asyncio.to_thread, gathered
            infos = await asyncio.gather(asyncio.to_thread(reward_func, [query], [s["prompt"]], [s["label"]]))
            info = infos[0] if infos else None
            if info:
                score = info.get("scores")
                if score is None:
                    score = info.get("rewards")
                out.update(reward=info.get("rewards"), scores=score, extra_logs=info.get("extra_logs") or {})
        except Exception as e:  # noqa: BLE001 -- the executor logs "Failed to fetch reward" and goes on
            out["error"] = e
        # _process_response_into_experience
        out["reward"] = torch.tensor([out["reward"]]) if out["reward"] is not None else None
        out["scores"] = torch.tensor([out["scores"]]) if out["scores"] is not None else None
        logs = {}
        for key, value in out["extra_logs"].items():
            if isinstance(value, torch.Tensor):
                value = value.flatten()[0].item()
            logs[key] = torch.tensor([value])
        out["extra_logs"] = logs
        return out

    async def rollout():
        return await asyncio.gather(*[execute(s) for s in samples])

    return asyncio.run(rollout())


# ------------------------------------------------------------------------------------------------ TRL 1.16


def trl_process_rows(n_rows: int, *, num_processes: int, per_device_train_batch_size: int, num_generations: int,
                     steps_per_generation: int = 1, seed: int = 0) -> list[list[int]]:
    """Dataset row per completion that each process scores in TRL 1.16's first generation step: TRL's own
    `RepeatSampler` as `GRPOTrainer._get_train_sampler` builds it, batched as `get_train_dataloader` does
    (per_device_train_batch_size * steps_per_generation), sharded across processes by accelerate's
    `BatchSamplerShard`, as `Accelerator.prepare` does."""
    from accelerate.data_loader import BatchSamplerShard
    from torch.utils.data import BatchSampler
    from trl.trainer.utils import RepeatSampler

    local = per_device_train_batch_size * steps_per_generation
    generation_batch_size = local * num_processes
    sampler = RepeatSampler(range(n_rows), mini_repeat_count=num_generations,
                            batch_size=generation_batch_size // num_generations,
                            repeat_count=steps_per_generation, shuffle=True, seed=seed)
    batches = BatchSampler(sampler, local, drop_last=False)
    return [next(iter(BatchSamplerShard(batches, num_processes=num_processes, process_index=p)))
            for p in range(num_processes)]


def tiny_hf_model(path):
    """A 2-layer random LlamaForCausalLM and a character tokenizer (pad != eos), saved to `path`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    chars = list("0123456789+-=?{}\\abcdefghijklmnopqrstuvwxyz :.\n")
    vocab = {"<pad>": 0, "<eos>": 1, "<unk>": 2, **{c: i + 3 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")  # one token per character
    tok.decoder = decoders.Fuse()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                         max_position_embeddings=64, pad_token_id=0, eos_token_id=1,
                                         bos_token_id=None))
    model.save_pretrained(path)
    hf_tok.save_pretrained(path)
    return model, hf_tok
