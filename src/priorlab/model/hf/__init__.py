"""Hugging Face checkpoints: loading, batched generation, checkpoints, the vLLM backend."""
