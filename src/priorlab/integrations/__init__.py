"""priorlab's rewards inside other trainers: thin wrappers for TRL, verl and OpenRLHF.

    from priorlab.integrations.trl import trl_reward
    GRPOTrainer(model, reward_funcs=[trl_reward("random:0.5", seed=0)], train_dataset=ds, ...)  # ds has `answer`

    # verl 0.9.1: reward.custom_reward_function.path=pkg://priorlab.integrations.verl
    #   reward.custom_reward_function.name=compute_score +reward.custom_reward_function.reward_kwargs.reward=format
    # OpenRLHF: --remote_rm_url my_reward.py, where my_reward.py says
    #       from priorlab.integrations.openrlhf import openrlhf_reward; reward_func = openrlhf_reward("correct")

Each wrapper only finds groups, golds and steps in its trainer's calling convention and hands them to
`math.reward.MathReward` (grader -> verdicts -> `rl.rewards`' scorer), the scorer of `priorlab rl` on data files.
The shared grouping, and the refusal of partial groups, is in `integrations.batch`. None imports torch.
Tests: `.venv/bin/pytest tests/test_integrations.py` (the trainers' calling code: `tests/trainer_calls.py`).
"""
