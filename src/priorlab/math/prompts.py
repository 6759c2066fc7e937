"""Prompt templates for real math problems: the text a Hugging Face model is asked to continue.

    from priorlab.math.prompts import render
    render("What is 1+1?", "qwen-math", tokenizer)   # -> str, then tokenised with add_special_tokens(template)

| template    | prompt                                                                                     |
|-------------|--------------------------------------------------------------------------------------------|
| plain       | the problem text, then a newline                                                           |
| qwen-math   | Qwen2.5-Math's CoT prompt: system "Please reason step by step, and put your final answer    |
|             | within \\boxed{}.", user the problem, then the assistant turn opens (`QWEN_MATH`). The same  |
|             | literal text as the `qwen_math` template of Understanding R1-Zero / Spurious Rewards, so it |
|             | works on base models whose tokenizer has no chat template.                                 |
| chat        | the tokenizer's own chat template, one user message, generation prompt added               |

A chat template already writes the BOS token where the model expects one, so `add_special_tokens` is
False for `chat` and True otherwise (the tokenizer then adds its BOS, if it has one, as in pretraining).

Tests: `.venv/bin/pytest tests/test_math_prompts.py`.
"""

from __future__ import annotations

TEMPLATES = ("plain", "qwen-math", "chat")
QWEN_MATH = ("<|im_start|>system\nPlease reason step by step, and put your final answer within \\boxed{{}}."
             "<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n")


def check_template(template: str) -> None:
    """ValueError naming the valid templates unless `template` is one."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown --template {template!r}; valid: {', '.join(TEMPLATES)}")


def render(question: str, template: str, tokenizer=None) -> str:
    """The prompt text of `question` under `template` (module doc); ValueError for a chat template the
    tokenizer lacks, naming the tokenizer."""
    check_template(template)
    if template == "plain":
        return question + "\n"
    if template == "qwen-math":
        return QWEN_MATH.format(question=question)
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "") or "this model"
        raise ValueError(f"--template chat: the tokenizer of {name} has no chat template; "
                         "use --template plain or qwen-math")
    return tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                         add_generation_prompt=True)


def add_special_tokens(template: str) -> bool:
    """Whether the tokenizer should add its special tokens (not for chat templates, which carry their own)."""
    return template != "chat"
