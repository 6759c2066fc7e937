"""Imitation stages: SFT / distillation on traces, and SRL (step-wise supervised RL)."""
