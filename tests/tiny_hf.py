"""A tiny random Qwen2 causal LM with a character tokenizer, saved to a folder (for the `hf:` tests),
and the helpers those tests share: addition problems as data rows, a JSONL writer, an in-process CLI.

Every printable ASCII character is one token, so any MATH / GSM8K text and the qwen-math template
encode without UNK. Nothing is downloaded.
"""

import json
import string

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
from typer.testing import CliRunner

from priorlab.cli import app

CHARS = sorted(set(string.printable) - set("\x0b\x0c\r"))
CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def save_tiny_qwen(path, *, chat_template: bool = False, seed: int = 0):
    specials = ["<eos>", "<pad>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials)} | {c: len(specials) + i for i, c in enumerate(CHARS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok.decoder = decoders.Fuse()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")
    if chat_template:
        hf_tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(Qwen2Config(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                                         max_position_embeddings=2048, eos_token_id=0, bos_token_id=None,
                                         pad_token_id=1, tie_word_embeddings=True))
    model.save_pretrained(path)
    hf_tok.save_pretrained(path)
    return path


ADDITION_ROWS = [{"problem": f"What is {a}+{b}?", "answer": str(a + b), "solution": f"{a}+{b} = \\boxed{{{a + b}}}"}
                 for a, b in [(1, 1), (2, 3), (4, 4), (5, 2)]]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def cli(*args):
    """Run `priorlab ARGS` in process: (the click result, everything it printed)."""
    r = CliRunner().invoke(app, [str(a) for a in args])
    return r, r.output + (r.stderr if r.stderr_bytes is not None else "")
