import pytest

pytest.importorskip("transformers")
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from priorlab.model.hf.load import PAD_TOKEN, is_hf_ref, load_hf, resolve_path

CHARS = list("0123456789+-=?abc \n")


def save_tiny(path, *, pad="<pad>", unk="<unk>", extra_rows=0):
    """A 2-layer random Llama with a character tokenizer; `pad`/`unk` None leave them out, pad="<eos>" makes
    pad == eos; `extra_rows` unused embedding rows beyond the vocabulary (as Qwen2.5 checkpoints have)."""
    specials = ["<eos>"] + [t for t in (pad, unk) if t not in (None, "<eos>")]
    vocab = {t: i for i, t in enumerate(specials)} | {c: len(specials) + i for i, c in enumerate(CHARS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=unk or "<eos>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.decoder = decoders.Fuse()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", **({"pad_token": pad} if pad else {}),
                                     **({"unk_token": unk} if unk else {}))
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(vocab) + extra_rows, hidden_size=16, intermediate_size=32,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                         max_position_embeddings=32, eos_token_id=vocab["<eos>"], bos_token_id=None,
                                         pad_token_id=hf_tok.pad_token_id))
    model.save_pretrained(path)
    hf_tok.save_pretrained(path)
    return path


def test_load_from_hf_prefix_and_directory(tmp_path):
    d = save_tiny(tmp_path / "m")
    assert is_hf_ref(f"hf:{d}") and is_hf_ref(d) and not is_hf_ref(tmp_path)
    lm = load_hf(f"hf:{d}")
    assert (lm.pad_source, lm.device, lm.dtype) == ("tokenizer", "cpu", "float32")
    assert lm.pad_id != lm.eos_id and lm.model.config.pad_token_id == lm.pad_id and not lm.model.training
    ids = lm.tokenizer("1+2=?", return_tensors="pt").input_ids
    assert ids.shape == (1, 5)  # one token per character
    assert lm.model(ids).logits.shape == (1, 5, lm.model.config.vocab_size)
    assert load_hf(d, dtype="bfloat16").dtype == "bfloat16"


def test_pad_equal_to_eos_falls_back_to_unk(tmp_path):
    lm = load_hf(save_tiny(tmp_path / "m", pad="<eos>"))
    assert lm.pad_source == "unk" and lm.pad_id == lm.tokenizer.unk_token_id != lm.eos_id


def test_no_pad_no_unk_adds_a_pad_in_spare_rows(tmp_path):
    lm = load_hf(save_tiny(tmp_path / "m", pad=None, unk=None, extra_rows=3))
    rows = lm.model.get_input_embeddings().num_embeddings
    assert lm.pad_source == "added" and lm.tokenizer.pad_token == PAD_TOKEN
    assert lm.pad_id == len(CHARS) + 1 < rows == len(CHARS) + 1 + 3  # the first spare row; nothing resized


def test_no_spare_rows_resizes_embeddings(tmp_path):
    lm = load_hf(save_tiny(tmp_path / "m", pad=None, unk=None))
    # vocabulary: <eos> + characters; the added pad is one more row
    assert lm.pad_source == "added+resized"
    assert lm.model.get_input_embeddings().num_embeddings == len(CHARS) + 2 == lm.pad_id + 1


def test_hub_id_without_network_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="never downloads models.*huggingface-cli download Qwen/Qwen2.5-0.5B"):
        load_hf("hf:Qwen/Qwen2.5-0.5B")


def test_bad_paths_and_options(tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        resolve_path(tmp_path)
    (tmp_path / "f.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="must be a directory"):
        resolve_path(tmp_path / "f.bin")
    d = save_tiny(tmp_path / "m")
    with pytest.raises(ValueError, match="unknown dtype 'fp8'"):
        load_hf(d, dtype="fp8")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        load_hf(d, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            load_hf(d, device="cuda")
    (d / "tokenizer.json").unlink()
    (d / "tokenizer_config.json").unlink()
    with pytest.raises(ValueError, match="cannot load its tokenizer"):
        load_hf(d)
