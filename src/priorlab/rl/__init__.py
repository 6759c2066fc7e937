"""RL with verifiable rewards: advantage estimators and losses (algos), rewards, rollouts, the loop."""
