import pytest

pytest.importorskip("transformers")
import torch

from priorlab.model.gpt import positions_from_mask as positions
from priorlab.model.hf.generate import encode_prompts, hf_rollout, sequence_logprobs_hf
from priorlab.model.hf.load import load_hf
from tests.tiny_hf import save_tiny_qwen

PROMPTS = ["1+2=?\n", "What is 13-4?\n", "7\n"]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    return load_hf(save_tiny_qwen(tmp_path_factory.mktemp("m") / "q"))


def test_hf_position_ids_of_a_left_padded_batch():  # the world's positions_from_mask, as HF feeds them
    mask = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]], dtype=torch.bool)
    assert positions(mask).tolist() == [[0, 0, 0, 1], [0, 1, 2, 3]]


def test_pass_at_k_layout_prompt_major_left_padded(lm):
    ids = encode_prompts(lm, PROMPTS)
    ro = hf_rollout(lm, ids, n=4, max_new_tokens=6, seed=0, batch_size=8)  # 2 prompts x 4 per generate call
    P = max(len(p) for p in ids)
    assert ro.input_ids.shape[0] == 12 and len(ro.texts) == 12
    for b in range(12):
        p = ids[b // 4]  # row b = prompt b // 4, sample b % 4
        assert ro.input_ids[b, P - len(p):P].tolist() == p
        assert not ro.attn_mask[b, :P - len(p)].any() and (ro.input_ids[b, :P - len(p)] == lm.pad_id).all()
        n = int(ro.lengths[b])
        assert ro.completion_mask[b].sum() == n and ro.completion_mask[b, P:P + n].all()
        assert 1 <= n <= 6 and (not ro.finished[b] or ro.input_ids[b, P + n - 1] == lm.eos_id)
        assert ro.finished[b] or n == 6  # an unfinished row used the whole budget


def test_same_seed_bitwise_identical_other_seed_differs(lm):
    ids = encode_prompts(lm, PROMPTS)
    kw = {"n": 4, "max_new_tokens": 8, "batch_size": 8, "logprobs": True}
    a, b = hf_rollout(lm, ids, seed=3, **kw), hf_rollout(lm, ids, seed=3, **kw)
    c = hf_rollout(lm, ids, seed=4, **kw)
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.logprobs, b.logprobs) and a.texts == b.texts
    assert not torch.equal(a.input_ids, c.input_ids)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    hf_rollout(lm, ids, seed=3, **kw)
    assert torch.equal(torch.rand(1), before)  # the caller's global RNG is untouched


def test_greedy_tokens_are_the_argmax_of_the_trainer_forward(lm):
    # generate (KV cache, its own position ids) and sequence_logprobs_hf (one forward, positions from the
    # mask) must see the same left-padded sequences: every greedy token has the max log-prob there
    ids = encode_prompts(lm, PROMPTS)
    ro = hf_rollout(lm, ids, n=1, max_new_tokens=6, temperature=0.0)
    dev = ro.input_ids
    logits = lm.model(input_ids=dev, attention_mask=ro.attn_mask.long(), position_ids=positions(ro.attn_mask)).logits
    best = logits[:, :-1].argmax(-1)
    sel = ro.completion_mask[:, 1:]
    assert torch.equal(best[sel], ro.input_ids[:, 1:][sel])


def test_logprobs_match_a_hand_softmax_and_the_temperature(lm):
    ids = encode_prompts(lm, PROMPTS[:1])
    ro = hf_rollout(lm, ids, n=2, max_new_tokens=5, temperature=0.7, seed=1, logprobs=True)
    with torch.no_grad():
        logits = lm.model(input_ids=ro.input_ids, attention_mask=ro.attn_mask.long(),
                          position_ids=positions(ro.attn_mask)).logits
    b, t = 0, int(ro.completion_mask[0].nonzero()[0])  # the first generated token of row 0
    expected = torch.log_softmax(logits[b, t - 1] / 0.7, -1)[ro.input_ids[b, t]]
    assert ro.logprobs[b, t] == pytest.approx(float(expected), abs=1e-5)
    assert ro.logprobs[~ro.completion_mask].eq(0).all()
    lp, ent = sequence_logprobs_hf(lm.model, ro.input_ids, ro.attn_mask, ro.completion_mask, temperature=0.7)
    assert torch.allclose(lp, ro.logprobs, atol=1e-6) and (ent[ro.completion_mask] > 0).all()


def test_the_checkpoints_sampling_defaults_do_not_leak_in(tmp_path):
    # a generation_config with top_k=1 would make every sample the greedy one; priorlab samples softmax(logits/T)
    d = save_tiny_qwen(tmp_path / "q")
    from transformers import GenerationConfig

    GenerationConfig(top_k=1, do_sample=True, repetition_penalty=2.0, eos_token_id=0).save_pretrained(d)
    lm = load_hf(d)
    ro = hf_rollout(lm, encode_prompts(lm, ["1+2=?\n"]), n=8, max_new_tokens=6, seed=0)
    assert len(set(ro.texts)) > 1
    assert lm.model.generation_config.top_k == 1  # restored after the call


def test_bad_arguments(lm):
    with pytest.raises(ValueError, match="must all be >= 1"):
        hf_rollout(lm, [[5]], n=0, max_new_tokens=4)
    with pytest.raises(ValueError, match="top_p=0"):
        hf_rollout(lm, [[5]], n=1, max_new_tokens=4, top_p=0)
