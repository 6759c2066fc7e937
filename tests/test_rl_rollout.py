import torch

from priorlab.model.gpt import GPT, config_for_size
from priorlab.rl.rollout import rollout
from priorlab.world.formats import parse
from priorlab.world.tokenizer import Tokenizer


def _model():
    torch.manual_seed(0)
    return GPT(config_for_size("xs", Tokenizer().vocab_size, 128)).eval()


def test_rollout_packs_prompts_completions_and_labels():
    tok = Tokenizer()
    prompts = [tok.encode("Q: 1+2=?\n", bos=True), tok.encode("Q: 1+2-3=?\n", bos=True)]
    ro = rollout(_model(), prompts, group_size=3, max_new_tokens=12, generator=torch.Generator().manual_seed(1))
    B, T = ro.input_ids.shape
    assert B == 6 and len(ro.texts) == 6
    longest = max(len(p) for p in prompts)
    for b in range(B):
        p = prompts[b // 3]
        # the prompt sits right-aligned before the completion, padding on the left only
        assert ro.input_ids[b, longest - len(p) : longest].tolist() == p
        assert not ro.attn_mask[b, : longest - len(p)].any()
        n = int(ro.lengths[b])
        assert ro.completion_mask[b].sum() == n and ro.completion_mask[b, longest : longest + n].all()
        assert (ro.planning_mask[b] <= ro.completion_mask[b]).all() and not (ro.planning_mask[b] & ro.execution_mask[b]).any()
        # labels come from the grammar of the decoded text, one character per token
        labels = parse(ro.texts[b]).labels
        assert int(ro.planning_mask[b].sum()) == labels.count("p")
        assert int(ro.execution_mask[b].sum()) == labels.count("e")
        assert (ro.logprobs[b][~ro.completion_mask[b]] == 0).all()


def test_select_keeps_rows_consistent():
    tok = Tokenizer()
    ro = rollout(_model(), [tok.encode("Q: 1+2=?\n", bos=True)], group_size=4, max_new_tokens=8,
                 generator=torch.Generator().manual_seed(2))
    sub = ro.select(torch.tensor([3, 1]))
    assert sub.texts == [ro.texts[3], ro.texts[1]] and torch.equal(sub.input_ids[0], ro.input_ids[3])
