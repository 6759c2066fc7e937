"""Figures for the report: pass@k curves, reliability diagrams, format shares, entropy, update sparsity,
regime-map heatmaps.

Every function writes three files next to each other and returns their paths:

    STEM.png, STEM.svg   the figure (matplotlib, Agg canvas, no pyplot and no global backend state)
    STEM.json            exactly the numbers drawn, plus title and axis labels

The figure is drawn only from that JSON payload, so every number in a plot can be checked against
(and recomputed from) STEM.json; NaN/inf are written as null and not drawn. Files are written to a
temporary name and renamed, so a failure never leaves a half-written figure. matplotlib is imported
inside the functions: `import priorlab.lab.plots` is cheap.

    from priorlab.lab.plots import plot_passk
    plot_passk({"base": passk_curve(c0), "rl": passk_curve(c1)}, "out/passk")
"""

from __future__ import annotations

import itertools
import json
import math
import textwrap
from pathlib import Path
from typing import Any

from priorlab.common import runfiles

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
MEASURE_LABELS = {"frac_bf16": "bf16 exact", "frac_fp32": "fp32 exact", "frac_atol": "|Δ| > atol (fp32)"}


def _num(x):
    """A finite float, or None for None / NaN / inf (JSON null, not drawn)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _nums(xs, name: str, length: int | None = None) -> list:
    out = [_num(x) for x in xs]
    if length is not None and len(out) != length:
        raise ValueError(f"{name} has {len(out)} values, expected {length}")
    return out


def _nan(xs: list) -> list:
    return [math.nan if x is None else x for x in xs]


def _figure(width: float = 6.4, height: float = 4.2):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, alpha=0.3)
    return fig, ax


def _label(ax, data: dict) -> None:
    ax.set_title(data["title"], fontsize=13)
    ax.set_xlabel(data["xlabel"], fontsize=11)
    ax.set_ylabel(textwrap.fill(data["ylabel"], 40), fontsize=11)  # long labels wrap instead of running off the figure


def _save(fig, path_stem, data: dict) -> dict[str, str]:
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = {ext: stem.with_name(stem.name + "." + ext) for ext in ("png", "svg", "json")}
    runfiles.atomic_write(paths["png"], lambda p: fig.savefig(p, format="png", dpi=150, metadata={"Software": None}))
    runfiles.atomic_write(paths["svg"], lambda p: fig.savefig(p, format="svg", metadata={"Date": None}))
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    runfiles.atomic_write(paths["json"], lambda p: Path(p).write_text(text))
    return {ext: str(p) for ext, p in paths.items()}


def plot_passk(curves: dict, path_stem, title: str = "pass@k") -> dict[str, str]:
    """pass@k against k (log2 axis) per model, with CI bands.

    curves: {label: {"k", "mean", "ci_low", "ci_high"}} as returned by `evals.passk.passk_curve`.
    """
    if not curves:
        raise ValueError("plot_passk needs at least one curve")
    series = {}
    for label, cv in curves.items():
        missing = [key for key in ("k", "mean", "ci_low", "ci_high") if key not in cv]
        if missing:
            raise ValueError(f"curve {label!r} lacks {missing}")
        ks = [int(k) for k in cv["k"]]
        series[str(label)] = {"k": ks, **{key: _nums(cv[key], f"{label}.{key}", len(ks))
                                        for key in ("mean", "ci_low", "ci_high")}}
    data: dict[str, Any] = {"title": title, "xlabel": "k (samples per problem, log2 scale)", "ylabel": "pass@k",
            "series": series}

    fig, ax = _figure()
    for color, (label, s) in zip(itertools.cycle(COLORS), series.items()):
        ax.plot(s["k"], _nan(s["mean"]), marker="o", ms=4, color=color, label=label)
        ax.fill_between(s["k"], _nan(s["ci_low"]), _nan(s["ci_high"]), color=color, alpha=0.2, lw=0)
    ks = sorted({k for s in series.values() for k in s["k"]})
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_ylim(0, 1.02)
    ax.legend(loc="best", fontsize=9)
    _label(ax, data)
    return _save(fig, path_stem, data)


def plot_reliability(table, path_stem, title: str = "Reliability diagram", ece: float | None = None
                     ) -> dict[str, str]:
    """Accuracy per confidence bin (bars), mean confidence vs accuracy (points), and the diagonal.

    table: the list of bins from `evals.calibration.reliability_table`, or a `calibration_report`
    dict (its "reliability" and "ece" are used).
    """
    if isinstance(table, dict):
        ece = table.get("ece") if ece is None else ece
        table = table["reliability"]
    bins = [{"lo": float(r["lo"]), "hi": float(r["hi"]), "count": int(r["count"]),
             "mean_conf": _num(r["mean_conf"]), "accuracy": _num(r["accuracy"])} for r in table]
    ece = _num(ece)
    data: dict[str, Any] = {"title": title + (f" (ECE {ece:.3f})" if ece is not None else ""),
            "xlabel": "stated confidence", "ylabel": "accuracy", "ece": ece, "bins": bins,
            "diagonal": [[0.0, 0.0], [1.0, 1.0]]}

    fig, ax = _figure(5.2, 5.0)
    full = [b for b in bins if b["count"] and b["accuracy"] is not None]
    ax.plot(*zip(*data["diagonal"]), ls="--", color="grey", label="perfect calibration")
    ax.bar([b["lo"] for b in full], [b["accuracy"] for b in full], width=[b["hi"] - b["lo"] for b in full],
           align="edge", color=COLORS[0], alpha=0.35, edgecolor=COLORS[0], label="accuracy per bin")
    ax.plot([b["mean_conf"] for b in full], [b["accuracy"] for b in full], "o", color=COLORS[1],
            label="mean confidence of bin")
    for b in full:
        ax.annotate(f"n={b['count']}", ((b["lo"] + b["hi"]) / 2, b["accuracy"]), xytext=(0, 3),
                    textcoords="offset points", ha="center", fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.08)
    ax.legend(loc="upper left", fontsize=9)
    _label(ax, data)
    return _save(fig, path_stem, data)


def plot_format_shares(steps, shares: dict, path_stem, title: str = "Solution formats over RL training"
                       ) -> dict[str, str]:
    """Stacked share of each solution format per training step.

    shares: {format: [share at each step]}; formats are stacked in the given order.
    """
    steps = [int(s) for s in steps]
    if not shares:
        raise ValueError("plot_format_shares needs at least one format")
    shares = {str(f): _nums(v, f"shares[{f}]", len(steps)) for f, v in shares.items()}
    data: dict[str, Any] = {"title": title, "xlabel": "RL step", "ylabel": "share of samples", "steps": steps,
            "shares": shares}

    fig, ax = _figure()
    ys = [[0.0 if v is None else v for v in vals] for vals in shares.values()]
    ax.stackplot(steps, *ys, labels=list(shares), colors=COLORS, alpha=0.8)
    top = max((sum(col) for col in zip(*ys)), default=1.0)
    ax.set_ylim(0, max(1.0, top))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    _label(ax, data)
    return _save(fig, path_stem, data)


def plot_entropy_by_type(steps, planning, execution, path_stem,
                         title: str = "Token entropy: planning vs execution") -> dict[str, str]:
    """Mean policy entropy of planning tokens and of execution tokens per training step."""
    steps = [int(s) for s in steps]
    data: dict[str, Any] = {"title": title, "xlabel": "RL step", "ylabel": "mean token entropy (nats)", "steps": steps,
            "planning": _nums(planning, "planning", len(steps)),
            "execution": _nums(execution, "execution", len(steps))}

    fig, ax = _figure()
    ax.plot(steps, _nan(data["planning"]), marker="o", ms=3, color=COLORS[3], label="planning tokens")
    ax.plot(steps, _nan(data["execution"]), marker="s", ms=3, color=COLORS[0], label="execution tokens")
    ax.set_ylim(bottom=0)
    ax.legend(loc="best")
    _label(ax, data)
    return _save(fig, path_stem, data)


def plot_sparsity_per_layer(per_layer: dict, path_stem, measures=None,
                            title: str = "Parameters changed by RL, per layer") -> dict[str, str]:
    """Fraction of parameters changed per layer group, one bar per measure.

    per_layer: `diff_checkpoints(...)["per_run"][i]["per_layer"]`, {group: {"frac_bf16", ...}}.
    measures: keys to draw; default every one of frac_bf16, frac_fp32, frac_atol that is present.
    """
    if not per_layer:
        raise ValueError("plot_sparsity_per_layer needs at least one layer group")
    groups = [str(g) for g in per_layer]
    first = next(iter(per_layer.values()))
    measures = list(measures or [m for m in MEASURE_LABELS if m in first])
    for m in measures:
        for g, row in per_layer.items():
            if m not in row:
                raise ValueError(f"layer group {g!r} lacks measure {m!r}")
    labels = [g.rpartition(".")[2] if g.rpartition(".")[2].isdigit() else g for g in groups]
    data: dict[str, Any] = {"title": title, "xlabel": "layer", "ylabel": "fraction of parameters changed",
            "groups": groups, "labels": labels,
            "series": {m: [_num(per_layer[g][m]) for g in per_layer] for m in measures}}

    fig, ax = _figure(max(6.4, 0.5 * len(groups) * max(1, len(measures))), 4.2)
    width = 0.8 / max(1, len(measures))
    for j, (color, m) in enumerate(zip(COLORS, measures)):
        xs = [i + (j - (len(measures) - 1) / 2) * width for i in range(len(groups))]
        ax.bar(xs, _nan(data["series"][m]), width=width, color=color, label=MEASURE_LABELS.get(m, m))
    ax.set_xticks(range(len(groups)), labels, rotation=45 if len(groups) > 12 else 0)
    top = max([v for m in measures for v in data["series"][m] if v is not None] or [1.0])
    ax.set_ylim(0, min(1.02, max(0.01, top * 1.15)))  # RL-sized fractions (~1%) must stay visible
    ax.legend(loc="upper right", fontsize=9)
    _label(ax, data)
    return _save(fig, path_stem, data)


def plot_conditions(values: dict, path_stem, ylabel: str, title: str = "Conditions compared",
                    reference: float | None = None) -> dict[str, str]:
    """One bar per condition with its CI as an error bar (and an optional reference line).

    values: {label: {"estimate", "ci_low", "ci_high"}} (e.g. accuracy gain per reward).
    """
    if not values:
        raise ValueError("plot_conditions needs at least one condition")
    series = {str(k): {key: _num(v[key]) for key in ("estimate", "ci_low", "ci_high")} for k, v in values.items()}
    data: dict[str, Any] = {"title": title, "xlabel": "condition", "ylabel": ylabel, "series": series, "reference": _num(reference)
            if reference is not None else None}
    fig, ax = _figure(width=max(5.0, 1.1 * len(series) + 2), height=4.0)
    labels = list(series)
    est = [series[k]["estimate"] for k in labels]
    def err(a, b):
        return [max(0.0, x - y) if x is not None and y is not None else 0.0 for x, y in zip(a, b)]

    lo = err(est, [series[k]["ci_low"] for k in labels])
    hi = err([series[k]["ci_high"] for k in labels], est)
    ax.bar(range(len(labels)), _nan(est), yerr=[lo, hi], capsize=4,
           color=[COLORS[i % len(COLORS)] for i in range(len(labels))], alpha=0.85)
    ax.set_xticks(range(len(labels)), [textwrap.fill(k, 22) for k in labels], rotation=20, ha="right")
    ax.axhline(0, color="black", lw=0.8)
    if reference is not None:
        ax.axhline(reference, color="grey", ls="--", lw=1)
    _label(ax, data)
    return _save(fig, path_stem, data)


VERDICT_SHORT = {"reproduced": "reproduced", "not reproduced": "not reproduced", "inconclusive": "inconclusive",
                 "untestable": "untestable", "error": "analysis error"}


def _tick(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def plot_map(m: dict, path_stem) -> dict[str, str]:
    """A regime map as a heatmap: one cell per grid point; colour = effect (diverging around 0, δ marked on the
    colour bar, grey where undefined); text = verdict and effect [95% CI]; hatched = untestable, with the
    first failed gate, its value and threshold (all of them are in the JSON), or, for a claim without gates,
    its reason; crossed = the cell's analysis failed.

    m: a map of `lab.maps.run_map` ({"claim", "preset", "axes", "cells", "metric", "delta"}). One axis -> one
    row of cells; two -> the first axis across, the second down.
    """
    import textwrap

    axes, cells = m["axes"], m["cells"]
    if not 1 <= len(axes) <= 2 or not cells:
        raise ValueError(f"plot_map needs 1 or 2 axes and some cells, got {len(axes)} axes, {len(cells)} cells")
    xa, ya = axes[0], axes[1] if len(axes) == 2 else None
    by_at = {tuple(c["at"][a["name"]] for a in axes): c for c in cells}
    rows = []
    for yv in (ya["values"] if ya else [None]):
        row = []
        for xv in xa["values"]:
            c = by_at.get((xv,) if ya is None else (xv, yv))
            if c is None:
                raise ValueError(f"plot_map: no cell at {xa['name']}={xv}" + (f", {ya['name']}={yv}" if ya else ""))
            row.append({"effect": _num(c["effect"]), "ci_low": _num(c["ci_low"]), "ci_high": _num(c["ci_high"]),
                        "verdict": c["verdict"], "untestable": c["verdict"] == "untestable",
                        "failed_gates": [{k: g[k] for k in ("name", "value", "op", "threshold")}
                                         for g in c.get("gates", []) if not g["passed"]],
                        "reason": c.get("reason", "")})
        rows.append(row)
    data: dict[str, Any] = {"title": f"{m['claim']}: regime map ({m.get('preset', '')})", "xlabel": xa["name"],
            "ylabel": ya["name"] if ya else "", "x": [_tick(v) for v in xa["values"]],
            "y": [_tick(v) for v in ya["values"]] if ya else [""], "metric": m.get("metric", ""),
            "delta": _num(m.get("delta")), "cells": rows}

    from matplotlib import colormaps
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    nx, ny = len(data["x"]), len(data["y"])
    fig, ax = _figure(width=2.0 * nx + 2.6, height=1.25 * ny + (2.0 if ya else 1.5))
    ax.grid(False)
    effects = [[math.nan if c["effect"] is None else c["effect"] for c in row] for row in rows]
    finite = [abs(e) for row in effects for e in row if math.isfinite(e)]
    span = max(finite + [1.2 * (data["delta"] or 0.0), 1e-3])
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-span, vmax=span)
    cmap = colormaps["RdBu"].with_extremes(bad="#e6e6e6")
    img = ax.imshow(effects, cmap=cmap, norm=norm, aspect="auto", origin="lower")
    for iy, row in enumerate(rows):
        for ix, c in enumerate(row):
            e = c["effect"]
            dark = e is not None and abs(e) / span > 0.6
            lines = [VERDICT_SHORT.get(c["verdict"], c["verdict"])]
            lines.append("effect –" if e is None else f"{e:+.3g}" + (
                "" if c["ci_low"] is None else f" [{c['ci_low']:+.2g}, {c['ci_high']:+.2g}]"))
            if c["untestable"] and c["failed_gates"]:
                g, more = c["failed_gates"][0], len(c["failed_gates"]) - 1
                value = "not measured" if g["value"] is None else f"= {g['value']:.3g}"
                lines += [f"gate {g['name']}", f"{value}, needs {g['op']} {g['threshold']:g}"
                          + (f" (+{more} more)" if more else "")]
            elif c["verdict"] in ("untestable", "error") and c["reason"]:  # a claim without gates says why
                lines += textwrap.wrap(c["reason"], 30, max_lines=2, placeholder=" …")
            if c["untestable"] or c["verdict"] == "error":
                ax.add_patch(Rectangle((ix - 0.5, iy - 0.5), 1, 1, fill=False, lw=0, edgecolor="#444444",
                                       hatch="///" if c["untestable"] else "xx", alpha=0.45))
            ax.text(ix, iy, "\n".join(lines), ha="center", va="center", fontsize=8,
                    color="white" if dark else "black", fontweight="bold" if c["verdict"] == "reproduced" else None,
                    bbox=None if not (c["untestable"] or c["verdict"] == "error") else
                    {"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.75})
    ax.set_xticks(range(nx), data["x"])
    ax.set_yticks(range(ny), data["y"])
    if ya is None:
        ax.tick_params(axis="y", left=False)
    cbar = fig.colorbar(img, ax=ax, fraction=0.08, pad=0.03)
    label = "effect: " + "\n".join(textwrap.wrap(data["metric"], 40))
    if data["delta"]:
        cbar.ax.axhline(data["delta"], color="black", lw=1.5)
        label += f"\n(black line: δ = {data['delta']:g})"
    cbar.set_label(label, fontsize=8)
    ax.set_title(data["title"] + "\nhatched: untestable (the cell says which gate failed, or why)", fontsize=11)
    ax.set_xlabel(data["xlabel"], fontsize=10)
    ax.set_ylabel(data["ylabel"], fontsize=10)
    return _save(fig, path_stem, data)
