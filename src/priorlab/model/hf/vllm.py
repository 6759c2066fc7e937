"""Optional vLLM backend for evaluation (`priorlab eval --backend vllm`): texts only, no log-probs.

    from priorlab.model.hf.vllm import vllm_texts
    texts = vllm_texts("models/Qwen2.5-Math-1.5B", prompts, n=64, max_new_tokens=1024, temperature=0.6,
                       top_p=1.0, seed=0, dtype="bfloat16")   # len(prompts) * n strings, prompt-major

vLLM is not a dependency: `check_vllm` raises one clear ValueError when it is not importable or no
CUDA GPU is visible, before anything is loaded. The sampling parameters mirror the HF backend's
(softmax(logits / T), nucleus top_p, top_k off, no repetition penalty, per-request seed), but vLLM's
kernels are its own, so its samples are not the HF backend's samples for the same seed.
This module has not been run against a real vLLM install in priorlab's CI (no GPU there).
"""

from __future__ import annotations


def check_vllm() -> None:
    """ValueError with what to do when vLLM is not installed."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise ValueError("--backend vllm: vllm is not installed (pip install vllm on a CUDA machine), "
                         "or use --backend hf") from None
    import torch

    if not torch.cuda.is_available():
        raise ValueError("--backend vllm: no CUDA GPU is visible; vLLM needs one (use --backend hf on CPU)")


def vllm_texts(path: str, prompts: list[str], *, n: int, max_new_tokens: int, temperature: float, top_p: float,
               seed: int, dtype: str = "auto", add_special_tokens: bool = True) -> list[str]:
    """`n` completions per prompt sampled with vLLM, in prompt order."""
    check_vllm()
    from vllm import LLM, SamplingParams

    llm = LLM(model=path, dtype=dtype, seed=seed, tokenizer_mode="auto")
    params = SamplingParams(n=n, temperature=temperature, top_p=top_p if temperature > 0 else 1.0, top_k=-1,
                            repetition_penalty=1.0, max_tokens=max_new_tokens, seed=seed)
    tok = llm.get_tokenizer()
    token_prompts = [{"prompt_token_ids": tok(p, add_special_tokens=add_special_tokens)["input_ids"]} for p in prompts]
    outs = llm.generate(token_prompts, params)
    return [c.text for o in outs for c in o.outputs]
