import pytest

pytest.importorskip("transformers")

from priorlab.math.prompts import QWEN_MATH, add_special_tokens, render
from priorlab.model.hf.load import load_hf
from tests.tiny_hf import save_tiny_qwen


def test_plain_and_qwen_math_are_literal_texts():
    assert render("What is 1+1?", "plain") == "What is 1+1?\n"
    assert render("What is 1+1?", "qwen-math") == (
        "<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>user\nWhat is 1+1?<|im_end|>\n<|im_start|>assistant\n")
    assert "{question}" in QWEN_MATH
    assert add_special_tokens("plain") and add_special_tokens("qwen-math") and not add_special_tokens("chat")


def test_chat_uses_the_tokenizer_template_or_fails_clearly(tmp_path):
    chat = load_hf(save_tiny_qwen(tmp_path / "chat", chat_template=True)).tokenizer
    assert render("2+2?", "chat", chat) == "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
    plain = load_hf(save_tiny_qwen(tmp_path / "plain")).tokenizer
    with pytest.raises(ValueError, match="has no chat template; use --template plain or qwen-math"):
        render("2+2?", "chat", plain)
    with pytest.raises(ValueError, match="unknown --template 'alpaca'"):
        render("2+2?", "alpaca", plain)
