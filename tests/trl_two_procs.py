"""TRL 1.16's GRPOTrainer in two CPU processes (gloo) with priorlab's majority reward, for test_integrations.

    python -m torch.distributed.run --nproc_per_node 2 tests/trl_two_procs.py MODEL_DIR OUT_DIR

Two runs of one step on 4 prompts, num_generations 4: per_device_train_batch_size 2 (each process scores half
of a group: the reward must refuse), then 4 (whole groups: it must train). Each rank writes rank<R>.json with
the error of the first run and the prompts of each reward call of the second.
"""

import json
import os
import sys

import datasets
from trl import GRPOConfig, GRPOTrainer

from priorlab.integrations.trl import trl_reward

model_dir, out = sys.argv[1], sys.argv[2]
rank = int(os.environ["RANK"])
ds = datasets.Dataset.from_list([{"prompt": f"{a}+{b}=?", "answer": str(a + b)}
                                 for a, b in [(1, 2), (3, 4), (5, 6), (7, 8)]])
report = {}
for per_device in (2, 4):
    calls = []
    majority = trl_reward("majority", group_size=4)

    def spy(prompts, completions, **kw):
        calls.append(list(prompts))
        return majority(prompts, completions, **kw)

    spy.__name__ = majority.__name__
    args = GRPOConfig(output_dir=f"{out}/run{per_device}", per_device_train_batch_size=per_device, num_generations=4,
                      max_completion_length=4, max_steps=1, report_to="none", use_cpu=True, save_strategy="no",
                      seed=0, bf16=False)
    trainer = GRPOTrainer(model=model_dir, reward_funcs=[spy], args=args, train_dataset=ds)
    try:
        trainer.train()
        report[f"per_device_{per_device}"] = {"calls": calls, "error": None}
    except ValueError as e:
        report[f"per_device_{per_device}"] = {"calls": calls, "error": str(e)}
with open(f"{out}/rank{rank}.json", "w") as f:
    json.dump(report, f)
