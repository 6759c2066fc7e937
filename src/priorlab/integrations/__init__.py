"""priorlab's rewards inside other trainers: thin wrappers for TRL, verl and OpenRLHF.

    from priorlab.integrations.trl import trl_reward
    GRPOTrainer(model, reward_funcs=[trl_reward("random:0.5", seed=0)], train_dataset=ds, ...)  # ds has `answer`

    # verl: custom_reward_function.path=<site-packages>/priorlab/integrations/verl.py
    #       custom_reward_function.name=compute_score +custom_reward_function.reward_kwargs.reward=format
    # OpenRLHF: --remote_rm_url my_reward.py, where my_reward.py says
    #       from priorlab.integrations.openrlhf import openrlhf_reward; reward_func = openrlhf_reward("correct")

Each wrapper only finds groups, golds and steps in its trainer's calling convention and hands them to
`math.reward.MathReward` (grader -> verdicts -> `rl.rewards`' scorer), the scorer of `priorlab rl` on data files.
The shared grouping is in `integrations.batch`. Tests: `.venv/bin/pytest tests/test_integrations.py`.
"""
