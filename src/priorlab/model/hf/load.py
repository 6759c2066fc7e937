"""Hugging Face causal LMs from a local path: `hf:PATH`, or a directory with a `config.json`.

    from priorlab.model.hf.load import load_hf
    lm = load_hf("hf:models/Qwen2.5-0.5B", dtype="bfloat16", device="auto")
    lm.model, lm.tokenizer, lm.pad_id, lm.eos_id, lm.pad_source

A priorlab run directory made by `priorlab rl` / `sft` on an HF model stands for its final policy,
`RUN/model/`, so `hf:runs/rl` works as a model reference.

Only local files are read (`local_files_only=True`): a hub id such as `Qwen/Qwen2.5-0.5B` that is not a
local directory is an error that says how to fetch it first; nothing is downloaded at run time.

Padding: the pad token must differ from EOS, or masks built from `ids != pad_id` drop the stop token and
EOS gets no gradient (the stop action is then never learnt). `pad_source` records which rule applied:
- `tokenizer`: the tokenizer's own pad token, already distinct from EOS;
- `unk`: no usable pad, so the UNK token (distinct from EOS) pads;
- `added`: a new `<|priorlab_pad|>` special token whose id falls in the embedding matrix's unused rows
  (checkpoints often have more rows than tokens, e.g. Qwen2.5), so the weights are unchanged;
- `added+resized`: as `added`, with the embeddings resized by one row (mean-initialised by transformers).
  The model then has a new output logit; sampling code should never emit `pad_id`.
`model.config.pad_token_id` and `model.generation_config.pad_token_id` are set to `pad_id`.

`dtype`: auto (the checkpoint's own), float32, bfloat16 or float16. `device`: cpu, cuda, cuda:N, mps, or
auto (cuda if available, else cpu). The model is returned in eval mode.

Tests: `.venv/bin/pytest tests/test_model_hf_load.py` (tiny random Llama models saved to a temp folder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from priorlab.common.failures import first_line

PREFIX = "hf:"
DTYPES = ("auto", "float32", "bfloat16", "float16")
PAD_TOKEN = "<|priorlab_pad|>"
RUN_MODEL_DIR = "model"  # where `priorlab rl` / `sft` on an HF model save the final policy


@dataclass
class HFModel:
    model: object  # transformers.PreTrainedModel
    tokenizer: object  # transformers.PreTrainedTokenizerBase
    path: str
    pad_id: int
    eos_id: int
    pad_source: str  # tokenizer | unk | added | added+resized (module doc)
    dtype: str
    device: str


def is_hf_ref(ref: str | Path) -> bool:
    """True for `hf:...` and for a directory holding `config.json` (a priorlab run directory has none)."""
    s = str(ref)
    return s.startswith(PREFIX) or (Path(s) / "config.json").is_file() and not (Path(s) / "model.json").is_file()


def resolve_path(ref: str | Path) -> Path:
    """The local checkpoint directory of `ref`; ValueError naming it when it is not one."""
    s = str(ref)
    raw = s.removeprefix(PREFIX)
    path = Path(raw).expanduser()
    if not path.exists():
        looks_like_hub = raw.count("/") == 1 and not raw.startswith((".", "/", "~"))
        hint = (f"; priorlab never downloads models at run time: fetch it first, e.g. "
                f"`huggingface-cli download {raw} --local-dir models/{raw.split('/')[-1]}`, "
                f"then pass hf:models/{raw.split('/')[-1]}") if looks_like_hub else ""
        raise ValueError(f"{s}: no such local checkpoint directory{hint}")
    if not path.is_dir():
        raise ValueError(f"{s}: a Hugging Face checkpoint must be a directory (with config.json), not a file")
    path = run_policy_dir(path) or path
    if not (path / "config.json").is_file():
        raise ValueError(f"{s}: not a Hugging Face checkpoint directory (no config.json)")
    return path


def run_policy_dir(path: Path) -> Path | None:
    """`path/model` when `path` is a priorlab run on an HF model (`priorlab rl` / `sft`, whose final policy
    is saved there and whose own config.json is not a transformers one); else None."""
    inner = path / RUN_MODEL_DIR
    return inner if (inner / "config.json").is_file() and not _hf_config(path / "config.json") else None


def _hf_config(path: Path) -> bool:
    """True if `path` is a transformers config (it names a `model_type`), not a priorlab run's config.json."""
    import json

    try:
        return "model_type" in json.loads(path.read_text())
    except (OSError, ValueError):
        return False


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but CUDA is not available; use device='cpu' or 'auto'")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device='mps' but MPS is not available; use device='cpu' or 'auto'")
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; valid: cpu, cuda, cuda:N, mps, auto")
    return device


def _dtype_kwargs(dtype: str) -> dict:
    import torch
    import transformers

    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    value = "auto" if dtype == "auto" else getattr(torch, dtype)
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype": value} if (major, minor) >= (4, 56) else {"torch_dtype": value}  # renamed in 4.56


def fix_padding(model, tokenizer) -> tuple[int, str]:
    """Make pad != eos (module doc); returns (pad_id, pad_source). Raises ValueError if there is no EOS."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no EOS token, so completions cannot stop; set eos_token in its config")
    if tokenizer.pad_token_id is not None and tokenizer.pad_token_id != eos:
        source = "tokenizer"
    elif tokenizer.unk_token_id is not None and tokenizer.unk_token_id != eos:
        tokenizer.pad_token = tokenizer.unk_token
        source = "unk"
    else:
        tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
        rows = model.get_input_embeddings().num_embeddings
        if tokenizer.pad_token_id >= rows:
            model.resize_token_embeddings(len(tokenizer))
            source = "added+resized"
        else:
            source = "added"
    pad = tokenizer.pad_token_id
    model.config.pad_token_id = pad
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = pad
    return pad, source


def load_hf(ref: str | Path, *, dtype: str = "auto", device: str = "cpu", trust_remote_code: bool = False) -> HFModel:
    """Load a causal LM and its tokenizer from a local directory (module doc); ValueError on bad input."""
    path = resolve_path(ref)
    dtype_kw = _dtype_kwargs(dtype)
    dev = _device(device)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code)
    except Exception as e:  # OSError, ValueError, TypeError, a tokenizers error on a corrupt tokenizer.json
        raise ValueError(f"{ref}: cannot load its tokenizer ({type(e).__name__}: {first_line(e)})") from None
    try:
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, trust_remote_code=trust_remote_code,
                                                     **dtype_kw)
    except Exception as e:  # OSError, ValueError, KeyError, safetensors' SafetensorError on a truncated file
        raise ValueError(f"{ref}: cannot load a causal LM ({type(e).__name__}: {first_line(e)})") from None
    pad, source = fix_padding(model, tokenizer)
    model.to(dev).eval()  # type: ignore[arg-type]  # transformers types `to` through a decorator that hides its device argument
    return HFModel(model, tokenizer, str(path), pad, tokenizer.eos_token_id, source,
                   str(next(model.parameters()).dtype).removeprefix("torch."), dev)
