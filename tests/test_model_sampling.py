"""Tests for priorlab.model.sampling: determinism, stopping, greedy / top-p, recorded logprobs and
entropies against a full forward, left-padding invariance, and sequence_logprobs."""

import math

import pytest
import torch

from priorlab.model.gpt import GPT, GPTConfig
from priorlab.model.sampling import _pick, _top_p_filter, next_token_stats, sample, sequence_logprobs

V, PAD, EOS = 7, 0, 1
PROMPTS = [[2, 3, 4, 5, 6], [3, 2], [4, 4, 5]]


def tiny(pos: str = "rope", vocab: int = V, seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=vocab, n_layer=2, n_head=2, n_embd=16, block_size=40, pos=pos)).eval()


def full_logits(model: GPT, prompt: list[int], completion: list[int]) -> torch.Tensor:
    """[len(completion), V] logits that predicted each completion token, from one unpadded forward."""
    seq = torch.tensor([prompt + completion])
    return model(seq)[0][0, len(prompt) - 1: -1]


def test_same_seed_same_samples_different_seed_different():
    model = tiny()
    a = sample(model, PROMPTS, max_new_tokens=12, eos_id=None, pad_id=PAD, seed=5)
    b = sample(model, PROMPTS, max_new_tokens=12, eos_id=None, pad_id=PAD, seed=5)
    c = sample(model, PROMPTS, max_new_tokens=12, eos_id=None, pad_id=PAD, seed=6)
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.logprobs, b.logprobs)
    assert torch.equal(a.entropies, b.entropies)
    assert not torch.equal(a.tokens, c.tokens)


def test_generator_and_default_seed_and_no_global_rng():
    model = tiny()
    state = torch.get_rng_state()
    by_generator = sample(model, PROMPTS, max_new_tokens=8, eos_id=None, pad_id=PAD,
                          generator=torch.Generator().manual_seed(5))
    by_seed = sample(model, PROMPTS, max_new_tokens=8, eos_id=None, pad_id=PAD, seed=5)
    default = sample(model, PROMPTS, max_new_tokens=8, eos_id=None, pad_id=PAD)
    seed0 = sample(model, PROMPTS, max_new_tokens=8, eos_id=None, pad_id=PAD, seed=0)
    assert torch.equal(by_generator.tokens, by_seed.tokens)
    assert torch.equal(default.tokens, seed0.tokens)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG was never drawn from
    with pytest.raises(ValueError, match="not both"):
        sample(model, PROMPTS, max_new_tokens=8, eos_id=None, pad_id=PAD, seed=1, generator=torch.Generator())


def test_without_eos_every_row_gets_exactly_max_new_tokens():
    out = sample(tiny(), PROMPTS, max_new_tokens=9, eos_id=None, pad_id=PAD, seed=1)
    assert out.tokens.shape == out.logprobs.shape == out.entropies.shape == (3, 9)
    assert out.lengths.tolist() == [9, 9, 9] and not out.finished.any()
    assert (out.logprobs < 0).all() and (out.entropies > 0).all()


def test_eos_stops_a_row_and_pad_fills_after_it():
    # With 4 symbols and a random model eos has probability ~1/4 a step, so over 12 steps and 16 rows
    # some rows stop and, for some seed among the first 20, some run to the end (~3% each).
    model = tiny(vocab=4)
    prompts = [[2, 3]] * 16
    outs = (sample(model, prompts, max_new_tokens=12, eos_id=EOS, pad_id=PAD, seed=s) for s in range(20))
    out = next((o for o in outs if o.finished.any() and not o.finished.all()), None)
    assert out is not None
    L = out.tokens.shape[1]
    assert L == out.lengths.max() == 12
    for row in range(16):
        n, toks = int(out.lengths[row]), out.tokens[row].tolist()
        assert (EOS in toks[: n - 1]) is False  # nothing was generated after an eos
        if out.finished[row]:
            assert toks[n - 1] == EOS
        else:
            assert n == L
        assert toks[n:] == [PAD] * (L - n)
        assert (out.logprobs[row, n:] == 0).all() and (out.entropies[row, n:] == 0).all()
        assert (out.logprobs[row, :n] < 0).all()


def test_loop_stops_once_every_row_has_finished():
    model = tiny(vocab=4)
    out = sample(model, [[2, 3]] * 4, max_new_tokens=30, eos_id=EOS, pad_id=PAD, seed=0)
    assert out.finished.all()
    assert out.tokens.shape[1] == out.lengths.max() < 30


def test_temperature_zero_is_greedy_against_a_full_forward():
    model = tiny()
    out = sample(model, PROMPTS, max_new_tokens=10, eos_id=None, pad_id=PAD, temperature=0.0)
    for row, prompt in enumerate(PROMPTS):
        completion = out.tokens[row].tolist()
        logits = full_logits(model, prompt, completion)
        assert logits.argmax(-1).tolist() == completion
        # greedy records logprobs at temperature 1
        expected = torch.log_softmax(logits, -1).gather(-1, out.tokens[row][:, None]).squeeze(1)
        assert torch.allclose(out.logprobs[row], expected, atol=1e-5)


def test_tiny_top_p_is_greedy():
    model = tiny()
    greedy = sample(model, PROMPTS, max_new_tokens=10, eos_id=None, pad_id=PAD, temperature=0.0)
    nucleus = sample(model, PROMPTS, max_new_tokens=10, eos_id=None, pad_id=PAD, top_p=1e-6, seed=4)
    assert torch.equal(greedy.tokens, nucleus.tokens)
    assert torch.allclose(greedy.logprobs, nucleus.logprobs, atol=1e-6)  # both scored at temperature 1


def test_top_p_filter_by_hand():
    probs = torch.tensor([[0.2, 0.5, 0.3]])
    # sorted .5, .3, .2; mass before each: 0, .5, .8 -> top_p .7 drops only the .2
    assert torch.allclose(_top_p_filter(probs, 0.7), torch.tensor([[0.0, 0.5, 0.3]]))
    # mass before .3 is .5 >= .5 -> only the .5 survives
    assert torch.allclose(_top_p_filter(probs, 0.5), torch.tensor([[0.0, 0.5, 0.0]]))


def test_pick_draws_from_the_distribution():
    probs = torch.tensor([0.5, 0.3, 0.2])
    logits = probs.log().expand(20_000, 3)
    token, logprob, _ = _pick(logits, 1.0, 1.0, torch.Generator().manual_seed(0))
    freq = torch.bincount(token, minlength=3) / 20_000
    assert torch.allclose(freq, probs, atol=0.015)  # 3 sigma of a binomial share is <= 0.011
    assert torch.allclose(logprob, probs.log()[token], atol=1e-6)
    # a nucleus of .7 never draws the .2 token
    token, _, _ = _pick(logits, 1.0, 0.7, torch.Generator().manual_seed(0))
    assert (token != 2).all()


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_logprobs_and_entropies_match_a_full_forward(pos):
    model = tiny(pos)
    temperature = 0.7
    out = sample(model, PROMPTS, max_new_tokens=10, eos_id=None, pad_id=PAD, temperature=temperature, seed=2)
    for row, prompt in enumerate(PROMPTS):
        logits = full_logits(model, prompt, out.tokens[row].tolist()) / temperature
        logp = torch.log_softmax(logits, -1)
        expected_lp = logp.gather(-1, out.tokens[row][:, None]).squeeze(1)
        expected_h = -(logp.exp() * logp).sum(-1)
        assert torch.allclose(out.logprobs[row], expected_lp, atol=1e-5)
        assert torch.allclose(out.entropies[row], expected_h, atol=1e-5)


def test_entropy_by_hand():
    # p = [.25, .75]: H = -(.25 ln .25 + .75 ln .75) = .3466 + .2158 = .5623 nats
    logits = torch.tensor([[0.0, math.log(3.0)], [5.0, 5.0]])
    _, _, entropy = next_token_stats(logits, 1.0)
    assert torch.allclose(entropy, torch.tensor([0.5623, math.log(2.0)]), atol=1e-4)
    # temperature 2 halves the logit gap: p ∝ [1, sqrt 3] = [.366, .634] -> H = .6568
    _, _, entropy = next_token_stats(logits[:1], 2.0)
    assert entropy.item() == pytest.approx(0.6568, abs=1e-4)


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_greedy_output_is_the_same_alone_or_in_a_padded_batch(pos):
    model = tiny(pos)
    short = [5, 3]
    batch = sample(model, [[2, 3, 4, 5, 6, 2, 4], short, [6, 6, 6, 2]], max_new_tokens=12, eos_id=None,
                   pad_id=PAD, temperature=0.0)
    alone = sample(model, [short], max_new_tokens=12, eos_id=None, pad_id=PAD, temperature=0.0)
    assert torch.equal(batch.tokens[1], alone.tokens[0])
    assert torch.allclose(batch.logprobs[1], alone.logprobs[0], atol=1e-5)
    assert torch.allclose(batch.entropies[1], alone.entropies[0], atol=1e-5)


def test_invalid_arguments_raise_value_error():
    model = tiny()  # block_size 40
    with pytest.raises(ValueError, match="block_size"):
        sample(model, [[2] * 30], max_new_tokens=11, eos_id=EOS, pad_id=PAD)
    with pytest.raises(ValueError, match="must differ"):
        sample(model, PROMPTS, max_new_tokens=4, eos_id=PAD, pad_id=PAD)
    with pytest.raises(ValueError, match="at least one token"):
        sample(model, [[2], []], max_new_tokens=4, eos_id=EOS, pad_id=PAD)
    with pytest.raises(ValueError, match="token ids"):
        sample(model, [[2, V]], max_new_tokens=4, eos_id=EOS, pad_id=PAD)
    with pytest.raises(ValueError, match="top_p"):
        sample(model, PROMPTS, max_new_tokens=4, eos_id=EOS, pad_id=PAD, top_p=0.0)


def test_samples_are_ordinary_tensors_usable_in_training():
    out = sample(tiny(), PROMPTS, max_new_tokens=4, eos_id=EOS, pad_id=PAD)
    assert not any(torch.is_inference(t) for t in (out.tokens, out.lengths, out.logprobs, out.entropies))


def batch_for_training(prompts, completions):
    """Left-padded prompts followed by right-padded completions, as the RL trainer builds them."""
    P, C = max(map(len, prompts)), max(map(len, completions))
    ids, attn, comp = [], [], []
    for p, c in zip(prompts, completions):
        ids.append([PAD] * (P - len(p)) + p + c + [PAD] * (C - len(c)))
        attn.append([0] * (P - len(p)) + [1] * (len(p) + len(c)) + [0] * (C - len(c)))
        comp.append([0] * P + [1] * len(c) + [0] * (C - len(c)))
    return torch.tensor(ids), torch.tensor(attn).bool(), torch.tensor(comp).bool()


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_sequence_logprobs_matches_unpadded_rows_and_the_sampler(pos):
    model = tiny(pos)
    out = sample(model, PROMPTS, max_new_tokens=8, eos_id=EOS, pad_id=PAD, temperature=0.8, seed=1)
    completions = [out.tokens[i, : out.lengths[i]].tolist() for i in range(3)]
    ids, attn, comp = batch_for_training(PROMPTS, completions)
    logprobs, entropies = sequence_logprobs(model, ids, attn, None, comp, temperature=0.8)
    assert logprobs.shape == entropies.shape == ids.shape and logprobs.requires_grad
    P = ids.shape[1] - out.tokens.shape[1]
    for i, (p, c) in enumerate(zip(PROMPTS, completions)):
        n = len(c)
        logits = full_logits(model, p, c) / 0.8
        logp = torch.log_softmax(logits, -1)
        expected = logp.gather(-1, torch.tensor(c)[:, None]).squeeze(1)
        assert torch.allclose(logprobs[i, P: P + n], expected, atol=1e-5)
        assert torch.allclose(entropies[i, P: P + n], -(logp.exp() * logp).sum(-1), atol=1e-5)
        assert torch.allclose(logprobs[i, P: P + n], out.logprobs[i, :n], atol=1e-5)
        assert (logprobs[i, :P] == 0).all() and (logprobs[i, P + n:] == 0).all()
    logprobs.sum().backward()
    assert model.wte.weight.grad is not None and model.wte.weight.grad.abs().sum() > 0


def test_dropping_finished_rows_changes_nothing_but_the_work(monkeypatch):
    # Greedy decoding draws no random numbers, so the run that drops finished rows from the decode batch
    # as soon as any row stops (fraction 1) must give what the run that never drops them (0) gives.
    # The stop token is chosen from a run without one: the id whose first appearance varies most by row.
    import priorlab.model.sampling as sampling

    model = tiny(seed=2)
    with torch.no_grad():  # large weights: a random model whose greedy choice depends on the context
        for p in model.parameters():
            p.mul_(20)
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(2, V, (int(n),), generator=g).tolist() for n in torch.randint(1, 6, (24,), generator=g)]
    free = sample(model, prompts, max_new_tokens=15, eos_id=None, pad_id=PAD, temperature=0).tokens

    def first_steps(t):
        return {row.tolist().index(t) for row in free if t in row.tolist()}

    stop = max(range(1, V), key=lambda t: len(first_steps(t)))
    assert len(first_steps(stop)) >= 3
    runs = {}
    for fraction in (0.0, 1.0):
        monkeypatch.setattr(sampling, "DROP_FRACTION", fraction)
        runs[fraction] = sample(model, prompts, max_new_tokens=15, eos_id=stop, pad_id=PAD, temperature=0)
    keep, drop = runs[0.0], runs[1.0]
    assert drop.finished.any() and len(set(drop.lengths.tolist())) >= 3  # rows stopped at different steps
    assert torch.equal(keep.tokens, drop.tokens) and torch.equal(keep.lengths, drop.lengths)
    assert torch.allclose(keep.logprobs, drop.logprobs, atol=1e-6)
    assert torch.allclose(keep.entropies, drop.entropies, atol=1e-6)


def test_reused_cache_buffer_gives_what_fresh_memory_gives(monkeypatch):
    import priorlab.model.sampling as sampling

    model = tiny()
    kw = dict(max_new_tokens=10, eos_id=EOS, pad_id=PAD, seed=4)
    first = sample(model, PROMPTS, **kw)
    buffer = sampling._CACHE_STORAGE[model]
    with torch.inference_mode():
        buffer.fill_(float("nan"))  # what a previous call left there is never read
    again = sample(model, PROMPTS, **kw)
    assert sampling._CACHE_STORAGE[model] is buffer  # reused, not reallocated
    bigger = sample(model, PROMPTS * 3, **kw)  # outgrows the buffer: a larger one replaces it
    assert sampling._CACHE_STORAGE[model].numel() > buffer.numel()
    monkeypatch.setattr(sampling, "REUSE_CACHE_BYTES", 0)  # every cache allocated per call
    fresh = sample(model, PROMPTS, **kw)
    monkeypatch.undo()
    with sampling._CACHE_STORAGE_LOCK:  # another thread's call holds the buffer
        busy = sample(model, PROMPTS, **kw)
    for out in (again, fresh, busy):
        assert torch.equal(out.tokens, first.tokens) and torch.equal(out.logprobs, first.logprobs)
        assert torch.equal(out.entropies, first.entropies) and torch.equal(out.lengths, first.lengths)
    assert bigger.tokens.shape[0] == 3 * len(PROMPTS)
