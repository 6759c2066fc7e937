"""Where RL changed the weights: update sparsity, update rank and cross-seed overlap of checkpoints.

Re-tests "RL updates small subnetworks" (Mukherjee et al. 2025, arXiv 2505.11711; code
`SagnikMukherjee/sparsity_in_rl` `check_sparsity.py`, `update_rank.py`). For every tensor of a base
checkpoint and of each run fine-tuned from it, Delta = theta_run - theta_base, and:

- changed (bf16): bf16(theta_run) != bf16(theta_base). The paper's exact measure: it loads both models in
  bf16 and counts Delta != 0. For finite values a bf16 difference is 0 iff the two bf16 values are
  equal (Sterbenz lemma, with subnormals), so comparing the casts is the same count.
- changed (fp32): fp32(theta_run) != fp32(theta_base). Updates below bf16 resolution (spacing about |w| * 2^-8;
  rounding hides changes below half of it) show here only (PULSE, arXiv 2602.03839; "The Path Not Taken", arXiv 2511.08567). Equal to the bf16 count
  when the checkpoints are stored in bf16.
- changed (atol), when atol is given: not torch.isclose(fp32 run, fp32 base, rtol=0, atol=atol), i.e.
  |Delta| > atol in fp32. (The paper applies atol=1e-5 to the bf16 Delta, nearly the bf16 exact count.)
- rho, the update in units of the bf16 precision: h(w) = half the spacing of bf16 numbers at the base
  weight w, 2^(e-8) for |w| in [2^e, 2^(e+1)) (bf16 keeps 7 fraction bits; e >= -126, and 2^-134 at 0
  and below, bf16's subnormal half-spacing); `rho` = sum |Delta| / sum h(w) over the floating-point
  entries of the scope, the mean cumulative update in half-ulps (PULSE, arXiv 2602.03839: Adam moves
  each weight by about lr per step, below h for small lr, which hides the update in bf16). Beside it
  `frac_above_half_ulp` = share with |Delta| > h(w), and `frac_bf16_expected` = mean min(1, |Delta| / 2h(w)),
  the share a bf16 comparison would show if each base weight sat at a uniformly random place in its
  bf16 rounding cell: what precision alone predicts from the update's magnitudes. A weight of 0.02
  (e = -6) has h = 2^-14 = 6.1e-5, so 120 Adam steps of lr 3e-5 (up to 3.6e-3) are far above it.
- rank of each 2-D Delta: torch.linalg.matrix_rank(Delta_fp32) with torch's default tolerance
  (singular values above sigma_max * max(m, n) * eps_fp32, eps_fp32 = 2^-23), as a fraction of min(m, n).
- for several runs from one base: Jaccard overlap |A & B| / |A | B| of the bf16 changed masks per tensor,
  per layer and globally, next to the overlap expected for independent masks at the same densities,
  E[J] ~= pq / (p + q - pq) ("chance", global densities) and the same ratio of expectations summed per
  tensor, sum N_t p_t q_t / sum N_t (p_t + q_t - p_t q_t) ("chance_stratified": controls for some
  tensors being updated far more than others), and the same sum over strata of equal binary exponent
  of the base weight within each tensor ("chance_magnitude").

  Why chance_magnitude: whether an update is visible in bf16 depends on the weight's own bf16 spacing
  (|w| * 2^-8), which every run shares, so even INDEPENDENT updates overlap far above the uniform chance.
  Measured here (4M weights ~ N(0, 0.02), two independent N(0, 1e-5) updates): J = 0.33 vs chance 0.11
  (fp32 base), J = 0.42 vs 0.06 (bf16 base); chance_magnitude gives 0.28 and 0.42. Compare the observed
  Jaccard with chance_magnitude before calling an overlap a shared subnetwork.

Memory: one tensor name at a time across base and all runs (`safetensors.safe_open`), so the peak is a
small multiple of the largest tensor (about 10x its fp32 size measured with 2 runs: the tensors, their
casts, masks and exponent strata), whatever the model size. Layers are grouped by the first integer component of
the name (`model.layers.3.mlp.up_proj.weight` -> `model.layers.3`); tensors without one (embeddings,
final norm, head) form the group `other`.

    diff_checkpoints("runs/base/model.safetensors", ["runs/rl_s0", "runs/rl_s1"], atol=1e-5)
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"
OTHER_GROUP = "other"


def resolve_checkpoint(path) -> dict[str, Path]:
    """Map every tensor name to the safetensors file that holds it.

    path: a .safetensors file, a sharded index json, or a directory holding `model.safetensors.index.json`
    (weight_map -> shard files), `model.safetensors`, or exactly one *.safetensors file.
    Raises FileNotFoundError naming the missing path and ValueError for a malformed index.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"checkpoint not found: {p}")
    if p.is_dir():
        candidates = sorted(p.glob("*.safetensors"))
        if (p / INDEX_NAME).is_file():
            p = p / INDEX_NAME
        elif (p / SINGLE_NAME).is_file():
            p = p / SINGLE_NAME
        elif len(candidates) == 1:
            p = candidates[0]
        else:
            raise FileNotFoundError(f"no {SINGLE_NAME} or {INDEX_NAME} in checkpoint directory {p}")
    if p.name.endswith(".json"):
        try:
            weight_map = json.loads(p.read_text())["weight_map"]
            assert isinstance(weight_map, dict) and weight_map
        except (ValueError, KeyError, TypeError, AssertionError):
            raise ValueError(f"malformed safetensors index (needs a non-empty weight_map): {p}") from None
        files = {name: p.parent / shard for name, shard in weight_map.items()}
        for shard in sorted(set(files.values())):
            if not shard.is_file():
                raise FileNotFoundError(f"shard {shard} listed in {p} not found")
        return files
    if p.suffix != ".safetensors":
        raise ValueError(f"not a safetensors checkpoint: {p}")
    with safe_open(str(p), framework="pt", device="cpu") as f:
        return {name: p for name in f.keys()}


class Checkpoint(contextlib.AbstractContextManager):
    """A read-only, lazily loaded (possibly sharded) safetensors checkpoint.

    with Checkpoint(path) as ck: ck.names (sorted), ck.shape(name), ck.get(name) -> one tensor.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.files = resolve_checkpoint(path)
        self.names = sorted(self.files)
        self._stack = contextlib.ExitStack()
        self._handles: dict[Path, object] = {}

    def _handle(self, file: Path):
        if file not in self._handles:
            h = self._stack.enter_context(safe_open(str(file), framework="pt", device="cpu"))
            absent = sorted({n for n, f in self.files.items() if f == file} - set(h.keys()))
            if absent:
                raise ValueError(f"{file} lacks tensor {absent[0]} that the index of {self.path} puts there")
            self._handles[file] = h
        return self._handles[file]

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of tensor `name`, read from its shard's header without loading it."""
        return tuple(self._handle(self.files[name]).get_slice(name).get_shape())

    def get(self, name: str) -> torch.Tensor:
        """Tensor `name`, loaded from the shard that holds it."""
        return self._handle(self.files[name]).get_tensor(name)

    def __exit__(self, *exc):
        self._stack.close()
        self._handles.clear()
        return None


def iter_tensors(path) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (name, tensor) in sorted name order, one tensor in memory at a time."""
    with Checkpoint(path) as ck:
        for name in ck.names:
            yield name, ck.get(name)


def layer_group(name: str) -> str:
    """`blocks.3.attn.weight` -> `blocks.3`; names without an integer component -> `other`."""
    parts = name.split(".")
    for i, part in enumerate(parts[:-1]):
        if part.isdigit():
            return ".".join(parts[: i + 1])
    return OTHER_GROUP


def _group_order(group: str):
    if group == OTHER_GROUP:
        return (1, "", 0)
    prefix, _, idx = group.rpartition(".")
    return (0, prefix, int(idx))


def update_rank(delta: torch.Tensor) -> int:
    """Numerical rank of a 2-D update, torch default tolerance sigma_max * max(m, n) * eps_fp32."""
    return int(torch.linalg.matrix_rank(delta.to(torch.float32)))


def half_ulp_bf16(w: torch.Tensor) -> torch.Tensor:
    """h(w): half the spacing of bf16 numbers at |w| (module doc), as fp32. 0.02 -> 2^-14, 1.0 -> 2^-8, 0 -> 2^-134."""
    w = w.to(torch.float32)
    e = torch.frexp(w).exponent.to(torch.int32) - 1  # w = m 2^(e+1), |m| in [0.5, 1): |w| in [2^e, 2^(e+1))
    e = torch.where(w == 0, torch.full_like(e, -126), e).clamp(min=-126)
    return torch.ldexp(torch.ones_like(w), e - 8)


def chance_jaccard(p: float, q: float) -> float | None:
    """Expected Jaccard of independent masks with densities p, q: pq / (p + q - pq); None if both 0."""
    union = p + q - p * q
    return p * q / union if union > 0 else None


def _jaccard(inter: int, union: int) -> float | None:
    return inter / union if union else None


def _changed_masks(base: torch.Tensor, run: torch.Tensor, atol: float | None) -> dict[str, torch.Tensor]:
    if not base.is_floating_point():  # integer buffers: one exact comparison serves every measure
        exact = run != base
        return {"bf16": exact, "fp32": exact, **({"atol": exact} if atol is not None else {})}
    b32, r32 = base.to(torch.float32), run.to(torch.float32)
    masks = {"bf16": base.to(torch.bfloat16) != run.to(torch.bfloat16), "fp32": b32 != r32}
    if atol is not None:
        masks["atol"] = ~torch.isclose(r32, b32, rtol=0.0, atol=atol)
    return masks


PRECISION_SUMS = ("numel_float", "abs_update_sum", "half_ulp_sum", "n_above_half_ulp", "expected_bf16_sum")


def _precision_sums(base: torch.Tensor, run: torch.Tensor) -> dict:
    """The sums behind rho, frac_above_half_ulp and frac_bf16_expected (module doc); zeros for integer buffers."""
    if not base.is_floating_point():
        return dict.fromkeys(PRECISION_SUMS, 0)
    b32 = base.to(torch.float32)
    d, h = (run.to(torch.float32) - b32).abs().double(), half_ulp_bf16(b32).double()
    return {"numel_float": base.numel(), "abs_update_sum": float(d.sum()), "half_ulp_sum": float(h.sum()),
            "n_above_half_ulp": int((d > h).sum()), "expected_bf16_sum": float((d / (2 * h)).clamp(max=1).sum())}


def _empty_counts(measures) -> dict:
    return {"numel": 0, "n_tensors": 0, **{f"changed_{m}": 0 for m in measures},
            **dict.fromkeys(PRECISION_SUMS, 0), "_rank_fracs": []}


def _finish(acc: dict, measures) -> dict:
    out = {k: v for k, v in acc.items() if not k.startswith("_")}
    for m in measures:
        out[f"frac_{m}"] = acc[f"changed_{m}"] / acc["numel"] if acc["numel"] else None
    n = acc["numel_float"]
    out["rho"] = acc["abs_update_sum"] / acc["half_ulp_sum"] if acc["half_ulp_sum"] > 0 else None
    out["frac_above_half_ulp"] = acc["n_above_half_ulp"] / n if n else None
    out["frac_bf16_expected"] = acc["expected_bf16_sum"] / n if n else None
    fracs = acc["_rank_fracs"]
    out["n_matrices_ranked"] = len(fracs)
    out["mean_rank_frac"] = sum(fracs) / len(fracs) if fracs else None
    return out


def _check_compatible(base: Checkpoint, run: Checkpoint) -> None:
    if base.names != run.names:
        missing = sorted(set(base.names) - set(run.names))[:3]
        extra = sorted(set(run.names) - set(base.names))[:3]
        raise ValueError(f"{run.path}: tensor names differ from base {base.path} "
                         f"(missing {missing}, extra {extra})")
    for name in base.names:
        if base.shape(name) != run.shape(name):
            raise ValueError(f"{run.path}: tensor {name} has shape {list(run.shape(name))}, "
                             f"base {base.path} has {list(base.shape(name))}")


def diff_checkpoints(base, runs, atol: float | None = None, rank: bool = True) -> dict:
    """Per-tensor, per-layer and global update sparsity of each run against base, plus cross-run overlap.

    base: checkpoint path; runs: list of checkpoint paths fine-tuned from base (see `resolve_checkpoint`).
    rank: compute the rank of each 2-D update (an SVD per matrix: slow for large models).

    Returns {
      "base", "runs", "atol", "measures" (["bf16", "fp32"] + ["atol"] if atol),
      "tensors": {name: {"shape", "numel", "group"}},
      "per_run": [{"run",
                   "global":    {"numel", "n_tensors", "changed_<m>", "frac_<m>", "n_matrices_ranked",
                                 "mean_rank_frac", "rho", "frac_above_half_ulp", "frac_bf16_expected",
                                 and their sums: "numel_float", "abs_update_sum", "half_ulp_sum", ...},
                   "per_layer": {group: same keys as global},      # layer order, then "other"
                   "per_tensor": {name: {"changed_<m>", "frac_<m>"[, "rank", "full_rank", "rank_frac"]}}}],
      "overlap": [{"runs": [i, j],                                  # every pair i < j of runs (bf16 masks)
                   "global": {"intersection", "union", "jaccard", "chance", "chance_stratified",
                              "chance_magnitude"},
                   "per_layer": {group: same keys}, "per_tensor": {name: same keys}}],
    }
    A fraction or Jaccard with a zero denominator is None. `chance` uses the densities of the scope
    (tensor, layer, whole model); `chance_stratified` sums per-tensor expectations within the scope;
    `chance_magnitude` sums them per (tensor, exponent of the base weight) stratum (see module doc).
    """
    runs = list(runs)
    if not runs:
        raise ValueError("diff_checkpoints needs at least one run checkpoint")
    measures = ["bf16", "fp32"] + (["atol"] if atol is not None else [])
    with contextlib.ExitStack() as stack:
        b = stack.enter_context(Checkpoint(base))
        rs = [stack.enter_context(Checkpoint(r)) for r in runs]
        for r in rs:
            _check_compatible(b, r)

        tensors: dict[str, dict] = {}
        groups: dict[str, None] = {}  # the layer groups in first-seen order
        per_run = [{"global": _empty_counts(measures), "per_layer": {}, "per_tensor": {}} for _ in rs]
        pairs = list(itertools.combinations(range(len(rs)), 2))
        ov = [{"global": _ov_empty(), "per_layer": {}, "per_tensor": {}} for _ in pairs]

        for name in b.names:
            theta0 = b.get(name)
            group = layer_group(name)
            numel = theta0.numel()
            tensors[name] = {"shape": list(theta0.shape), "numel": numel, "group": group}
            groups.setdefault(group, None)
            masks_bf16 = []
            for acc, r in zip(per_run, rs):
                theta = r.get(name)
                masks = _changed_masks(theta0, theta, atol)
                masks_bf16.append(masks["bf16"])
                entry: dict[str, Any] = {}
                sums = _precision_sums(theta0, theta)
                for m in measures:
                    n_changed = int(masks[m].sum())
                    entry[f"changed_{m}"] = n_changed
                    entry[f"frac_{m}"] = n_changed / numel if numel else None
                if rank and theta0.ndim == 2 and theta0.is_floating_point() and min(theta0.shape) > 0:
                    rk = update_rank(theta.to(torch.float32) - theta0.to(torch.float32))
                    full = min(theta0.shape)
                    entry.update(rank=rk, full_rank=full, rank_frac=rk / full)
                acc["per_tensor"][name] = entry
                del theta, masks
                for scope in (acc["global"], acc["per_layer"].setdefault(group, _empty_counts(measures))):
                    scope["numel"] += numel
                    scope["n_tensors"] += 1
                    for m in measures:
                        scope[f"changed_{m}"] += entry[f"changed_{m}"]
                    for k, v in sums.items():
                        scope[k] += v
                    if "rank_frac" in entry:
                        scope["_rank_fracs"].append(entry["rank_frac"])
            strata = _exponent_strata(theta0) if pairs else None
            for acc, (i, j) in zip(ov, pairs):
                _ov_add(acc, name, group, masks_bf16[i], masks_bf16[j], numel, strata)
            del theta0, masks_bf16

    order = sorted(groups, key=_group_order)
    return {
        "base": str(base), "runs": [str(r) for r in runs], "atol": atol, "measures": measures,
        "tensors": tensors,
        "per_run": [{"run": str(path), "global": _finish(acc["global"], measures),
                     "per_layer": {g: _finish(acc["per_layer"][g], measures) for g in order},
                     "per_tensor": acc["per_tensor"]} for path, acc in zip(runs, per_run)],
        "overlap": [{"runs": [i, j], "global": _ov_finish(acc["global"]),
                     "per_layer": {g: _ov_finish(acc["per_layer"][g]) for g in order},
                     "per_tensor": acc["per_tensor"]} for (i, j), acc in zip(pairs, ov)],
    }


# Overlap accumulators: integer counts plus the per-tensor expectations for the stratified chance.
def _ov_empty() -> dict:
    return {"numel": 0, "n_a": 0, "n_b": 0, "intersection": 0, "union": 0,
            "_e_inter": 0.0, "_e_union": 0.0, "_e_inter_mag": 0.0, "_e_union_mag": 0.0}


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _exponent_strata(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Stratum of each entry (its binary exponent, which sets its bf16 spacing) and stratum sizes."""
    if not theta.is_floating_point():
        idx = torch.zeros(theta.numel(), dtype=torch.long)
    else:
        idx = torch.frexp(theta.to(torch.float32).reshape(-1)).exponent.long()
        idx -= idx.min() if idx.numel() else 0
    return idx, torch.bincount(idx).double()


def _ov_finish(acc: dict) -> dict:
    n = acc["numel"]
    p, q = (acc["n_a"] / n, acc["n_b"] / n) if n else (0.0, 0.0)
    return {"intersection": acc["intersection"], "union": acc["union"],
            "jaccard": _jaccard(acc["intersection"], acc["union"]),
            "chance": chance_jaccard(p, q),
            "chance_stratified": _ratio(acc["_e_inter"], acc["_e_union"]),
            "chance_magnitude": _ratio(acc["_e_inter_mag"], acc["_e_union_mag"])}


def _ov_add(acc: dict, name: str, group: str, ma: torch.Tensor, mb: torch.Tensor, numel: int, strata) -> None:
    t = _ov_empty()
    n_a, n_b = int(ma.sum()), int(mb.sum())
    t.update(numel=numel, n_a=n_a, n_b=n_b, intersection=int((ma & mb).sum()), union=int((ma | mb).sum()))
    if numel:
        p, q = n_a / numel, n_b / numel
        t["_e_inter"], t["_e_union"] = numel * p * q, numel * (p + q - p * q)
        idx, n_s = strata
        a_s = torch.bincount(idx[ma.reshape(-1)], minlength=n_s.numel()).double()
        b_s = torch.bincount(idx[mb.reshape(-1)], minlength=n_s.numel()).double()
        inter = a_s * b_s / n_s.clamp(min=1)  # E|A & B| per stratum for independent masks
        t["_e_inter_mag"], t["_e_union_mag"] = float(inter.sum()), float((a_s + b_s - inter).sum())
    acc["per_tensor"][name] = _ov_finish(t)
    for scope in (acc["global"], acc["per_layer"].setdefault(group, _ov_empty())):
        for key in t:
            scope[key] += t[key]
