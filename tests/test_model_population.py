"""Population sampling (model.population): a member's samples are bitwise the same alone or inside any
population, at any position (CPU, one thread), and have the distribution of the single-model sampler."""

import random

import pytest
import torch

from priorlab.model.gpt import GPT, GPTConfig
from priorlab.model.population import Population, sample_population
from priorlab.model.sampling import sample

CFG = GPTConfig(vocab_size=21, n_layer=2, n_head=4, n_embd=32, block_size=64)


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def member(i: int, B: int):
    """(model, prompts, seed) of member i: its own weights, B prompts of 2-9 tokens, its own seed."""
    torch.manual_seed(100 + i)
    model = GPT(CFG).eval()
    rng = random.Random(i)
    prompts = [[rng.randrange(3, 21) for _ in range(rng.randrange(2, 10))] for _ in range(B)]
    return model, prompts, 1000 + i


def run(members, **kw):
    pop = Population([m for m, _, _ in members])
    return sample_population(pop, [p for _, p, _ in members], seeds=[s for _, _, s in members], eos_id=2, pad_id=0,
                             prompt_len=12, max_new_tokens=24, **kw)


@pytest.mark.parametrize("B", [2, 6])
@pytest.mark.parametrize("temperature", [1.0, 0.0])
def test_a_member_gets_the_same_bits_alone_or_in_any_population_at_any_position(B, temperature):
    members = [member(i, B) for i in range(8)]
    alone = [run([m], temperature=temperature)[0] for m in members]
    if temperature:  # rows stop at different steps: members run different numbers of steps
        assert any(bool(s.finished.any()) for s in alone) and not all(bool(s.finished.all()) for s in alone)
        assert len({s.tokens.shape[1] for s in alone}) > 1
    for R, order in ((3, [2, 0, 1]), (8, list(range(8))), (8, [5, 3, 7, 0, 6, 1, 4, 2])):
        together = run([members[i] for i in order], temperature=temperature)
        for pos, i in enumerate(order[:R]):
            a, b = alone[i], together[pos]
            for field in ("tokens", "lengths", "logprobs", "entropies", "finished"):
                assert torch.equal(getattr(a, field), getattr(b, field)), (R, order, i, field)


def test_samples_are_well_formed_and_scored_like_the_single_sampler():
    model, prompts, seed = member(0, 6)
    s = run([(model, prompts, seed)])[0]
    for b in range(len(prompts)):
        n = int(s.lengths[b])
        assert bool((s.tokens[b, n:] == 0).all()) and bool((s.logprobs[b, n:] == 0).all())
        if s.finished[b]:
            assert int(s.tokens[b, n - 1]) == 2 and bool((s.tokens[b, :n - 1] != 2).all())
    # greedy: the population's tokens are the single sampler's (argmax is robust to float rounding here)
    g = run([(model, prompts, seed)], temperature=0.0)[0]
    ref = sample(model, prompts, max_new_tokens=24, eos_id=2, pad_id=0, temperature=0.0)
    assert torch.equal(g.tokens, ref.tokens[:, :g.tokens.shape[1]]) and torch.equal(g.lengths, ref.lengths)
    assert torch.allclose(g.logprobs, ref.logprobs[:, :g.tokens.shape[1]], atol=1e-5)


def test_bad_arguments():
    m = member(0, 2)
    with pytest.raises(ValueError, match="2 prompt lists and 2 seeds"):
        sample_population(Population([m[0], m[0]]), [m[1]], seeds=[1, 2], eos_id=2, pad_id=0, prompt_len=12,
                          max_new_tokens=4)
    with pytest.raises(ValueError, match="prompt_len=3"):
        run_short = sample_population(Population([m[0]]), [m[1]], seeds=[1], eos_id=2, pad_id=0, prompt_len=3,
                                      max_new_tokens=4)
        del run_short
    other = GPT(GPTConfig(vocab_size=21, n_layer=1, n_head=4, n_embd=32, block_size=64))
    with pytest.raises(ValueError, match="same GPTConfig"):
        Population([m[0], other])
