"""Stage memory footprints from their configs, checked term by term against hand arithmetic."""

from priorlab.common.memory import activation_bytes
from priorlab.lab import footprint
from priorlab.model.gpt import GPTConfig, param_count
from priorlab.pretrain import PretrainConfig
from priorlab.rl.loop import RLConfig
from priorlab.world.mixtures import mixture_from_dict

G = GPTConfig(vocab_size=20, n_layer=2, n_head=2, n_embd=8, block_size=64)


def test_evaluation_counts_every_kept_sample_and_one_batch_of_cache():
    parts = footprint.evaluation(G, problems=10, difficulty="2x1,3x1", samples=4, max_new_tokens=100, batch_size=50)
    n = 10 * 2 * 4  # problems x difficulties x samples
    assert parts["samples kept"] == n * (1250 + 16 * 100)
    assert parts["sampling cache"] == 2 * 2 * 50 * (32 + 100) * 8 * 4  # k and v x layers x rows x seq x C x fp32
    two = footprint.evaluation(G, 10, "2x1,3x1", 4, 100, 50, models=2)
    assert two["samples kept"] == 2 * parts["samples kept"]


def test_rl_terms():
    cfg = RLConfig(init="x", prompts_per_step=4, group_size=2, minibatches=2, max_new_tokens=16, eval_problems=5,
                   eval_samples=3, difficulty="3x1")
    parts = footprint.rl(cfg, G)
    rows, seq = 8, 32 + 16
    assert parts["model and optimizer"] == 16 * param_count(G)
    assert parts["rollouts"] == rows * seq * 24
    assert parts["sampling cache"] == 2 * 2 * rows * seq * 8 * 4
    assert parts["activations"] == activation_bytes(4, seq, 2, 8, 2, 20)  # one mini-batch of 8 / 2 rows
    assert parts["evaluation samples"] == 5 * 1 * 3 * (1250 + 16 * 16)
    kl = footprint.rl(RLConfig(init="x", overrides=(("kl_beta", 0.1),)), G)
    assert kl["model and optimizer"] == 20 * param_count(G)  # + the frozen reference copy


def test_pretrain_corpus_grows_with_the_documents():
    raw = {"formats": {"code": 1.0}, "difficulty": {"2x1": 1.0}}
    small = footprint.pretrain(PretrainConfig(size="xs"), mixture_from_dict({**raw, "documents": 1000}))
    big = footprint.pretrain(PretrainConfig(size="xs"), mixture_from_dict({**raw, "documents": 10**12}))
    per_doc = small["corpus"] / 1000
    assert 9 * 10 + 16 < per_doc < 9 * 60 + 16  # `<bos>Q: a+b=?\n` and a short code trace: 10-60 tokens
    assert abs(big["corpus"] / 10**12 - per_doc) < 1  # the same documents, a million times as many
    assert small["activations"] == activation_bytes(32, 128, 2, 64, 4, footprint.Tokenizer().vocab_size)
