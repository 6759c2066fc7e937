"""Everything the commands print beyond a one-line `wrote ...`: tables and summaries of a mixture, an
evaluation, a training run, a retest, a diff, grades and figures. Each function takes what the library
returned (a summary dict, a result) and prints it; none computes a number.
"""

from pathlib import Path

from rich.table import Table
from rich.text import Text

from priorlab.cli.app import console, err
from priorlab.math.data import BadRecord, describe_bad
from priorlab.math.grading import STATUSES
from priorlab.world.formats import parse
from priorlab.world.tasks import Difficulty

NAN = float("nan")


# ------------------------------------------------------------------------------------------ world
LABEL_STYLE = {"p": "bold magenta", "e": "cyan", "o": "dim", "u": "red"}


def highlighted(prompt: str, completion: str) -> Text:
    """The completion coloured by token label: planning, execution, other, unparsed (LABEL_STYLE)."""
    t = Text(prompt, style="white")
    for ch, lab in zip(completion, parse(completion).labels):
        t.append(ch if ch != "\n" else "\n", style=LABEL_STYLE[lab])
    return t


def mixture(mix) -> None:
    """A mixture's formats as a table, its other dials on one line, and the colour legend."""
    table = Table(title=f"mixture {mix.name}", caption=mix.description or None)
    for col in ("format", "share", "corrupt", "misconception", "fails on (class)"):
        table.add_column(col)
    for f, s in mix.formats.items():
        table.add_row(f, f"{s.share:.2f}", f"{s.corrupt:.2f}",
                      f"{s.misconception} ({s.misconception_rate:.0%})" if s.misconception else "-",
                      f"{s.fails_on} ({s.fails_on_rate:.0%})" if s.fails_on else "-")
    console.print(table)
    dials = {"difficulty": ", ".join(f"{k}: {v:g}" for k, v in mix.difficulty.items()),
             "order pos_first": mix.pos_first, "coarse nl steps": mix.coarse, "self-check": mix.check,
             "confidence": f"{mix.confidence:g} ({mix.confidence_mode})", "shortcuts": mix.shortcut,
             "self-correction": mix.self_correct, "skills": skills(mix.difficulty),
             "documents": f"{mix.documents:,}"}
    if mix.contaminate is not None:
        c = mix.contaminate
        dials["contaminate"] = (f"{c.fraction:g} of {c.pool} held-out problems per difficulty (eval seed {c.seed}) "
                                f"x{c.repeats}, {c.form}" + (f" in {c.solution_format}" if c.form == "solution" else ""))
    console.print("  ".join(f"[bold]{k}[/]: {v}" for k, v in dials.items()))
    console.print("[bold magenta]planning[/]  [cyan]execution[/]  [dim]other[/]  [red]unparsed[/]\n")


def skills(difficulty: dict) -> str:
    """Which skills a difficulty mapping teaches: the chain (NxD), the multiplication (m1xD), their composition."""
    diffs = [Difficulty.from_key(k) for k, w in difficulty.items() if w > 0]
    chain, mul = any(not d.mul for d in diffs), any(d.mul and not d.composed for d in diffs)
    composed = any(d.composed for d in diffs)
    names = [n for n, on in (("chain", chain), ("multiplication", mul), ("composed", composed)) if on]
    return " + ".join(names)


def documents(docs) -> None:
    """(problem, style, text) documents, the prompt plain and the solution highlighted, a blank line after each."""
    for _problem, _style, text in docs:
        prompt_len = len(text) - len(text.split("\n", 1)[1])
        console.print(highlighted(text[:prompt_len], text[prompt_len:]))
        console.print()


# ------------------------------------------------------------------------------------------ training runs
def pretrain_done(s: dict, out: Path) -> None:
    """One line after pretraining: parameters, tokens, time, train and held-out loss, the run directory."""
    console.print(f"pretrained {s['params']:,} parameters on {s['tokens']:,} tokens in {s['elapsed_s']:.0f} s: "
                  f"train loss {s['loss/train']:.4f}, held-out loss {s['loss/val']:.4f} -> {out}")


def rl_done(s: dict, out: Path) -> None:
    """One line after a world RL run: greedy and T=1 accuracy before and after."""
    console.print(f"RL done: greedy accuracy {s.get('eval/acc_greedy/before', NAN):.3f} -> "
                  f"{s.get('eval/acc_greedy/after', NAN):.3f}, T=1 accuracy "
                  f"{s.get('eval/acc_t1/before', NAN):.3f} -> {s.get('eval/acc_t1/after', NAN):.3f} -> {out}")


def hf_rl_done(s: dict) -> None:
    """One line after an HF RL run: correctness at the first and last step, evaluation before and after, the model."""
    console.print(f"RL done ({s['steps']} steps): correct {s['correct/first_step']} (first step) -> "
                  f"{s['correct/last_step']} (last step)"
                  + (f", eval greedy {s['eval/acc_greedy/before']:.3f} -> {s['eval/acc_greedy/after']:.3f}"
                     if "eval/acc_greedy/before" in s else "") + f" -> {s['model']}")


def sft_done(s: dict, out: Path) -> None:
    """One line after a world SFT run: examples, greedy accuracy and format shares before and after."""
    skipped = s.get("data", {}).get("skipped_lines", 0)
    console.print(f"SFT done on {s['data']['examples']} examples ({s['data']['source']}"
                  + (f", {skipped} malformed lines skipped" if skipped else "") + "): greedy accuracy "
                  f"{s.get('eval/acc_greedy/before', NAN):.3f} -> {s.get('eval/acc_greedy/after', NAN):.3f}"
                  ", formats " + " ".join(f"{f} {s.get(f'eval/format/{f}/before', 0):.2f}->"
                                          f"{s.get(f'eval/format/{f}/after', 0):.2f}" for f in ("direct", "nl", "code"))
                  + f" -> {out}")


def hf_sft_done(s: dict) -> None:
    """One line after an HF SFT run: examples, truncated targets, loss at the first and last step, the model."""
    console.print(f"SFT done on {s['data']['examples']} examples ({s['data']['truncated']} targets cut at "
                  f"--max-length): loss {s['loss/sft/first']:.4f} (first step) -> {s['loss/sft/last']:.4f} "
                  f"(last step) -> {s['model']}")


def srl_done(s: dict, out: Path) -> None:
    """One line after an SRL run: step similarity and greedy accuracy before and after."""
    console.print(f"SRL done: step similarity {s.get('eval/step_similarity/before', NAN):.3f} -> "
                  f"{s.get('eval/step_similarity/after', NAN):.3f}, greedy accuracy "
                  f"{s.get('eval/acc_greedy/before', NAN):.3f} -> {s.get('eval/acc_greedy/after', NAN):.3f} -> {out}")


# ------------------------------------------------------------------------------------------ evaluations
def _fmt(x, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def eval_summary(s: dict) -> None:
    """A controlled-world evaluation (`evals.world_eval.evaluate`'s summary): accuracy and pass@K by
    difficulty, formats against the prior, pass@k with CIs (and against the baseline), calibration, entropy."""
    k = s["samples"]
    where = " of the pretraining split" if s.get("split") == "train" else ""
    t = Table(title=f"evaluation ({s['n_problems']} problems{where} x {k} samples)")
    for col in ("difficulty", "accuracy", f"pass@{k}"):
        t.add_column(col)
    for d, a in s["accuracy_by_difficulty"].items():
        t.add_row(d, f"{a:.3f}", f"{s[f'pass@{k}_by_difficulty'][d]:.3f}")
    t.add_row("all", f"{s['accuracy']:.3f}", f"{s[f'pass@{k}']:.3f}", style="bold")
    console.print(t)
    prior = s.get("prior")
    f = Table(title="formats" + (f" (prior: {prior['mixture']})" if prior else ""))
    for col in ("format", "sampled share", *(["prior share"] if prior else []), "accuracy"):
        f.add_column(col)
    for name, share in s["format_shares"].items():
        mix = [f"{prior['mixture_shares'].get(name, 0.0):.3f}"] if prior else []
        if share > 0 or (prior and name in prior["mixture_shares"]):
            f.add_row(name, f"{share:.3f}", *mix, f"{s['accuracy_by_format'].get(name, NAN):.3f}")
    console.print(f)
    if s.get("accuracy_by_format_class"):  # strategy-problem affinity: accuracy per (format, problem class)
        classes = list(s["accuracy_by_class"])
        c = Table(title="accuracy by format and problem class")
        for col in ("format", *classes):
            c.add_column(col, justify="right")
        for name, row in s["accuracy_by_format_class"].items():
            c.add_row(name, *(_fmt(row.get(cl)) for cl in classes))
        c.add_row("all", *(_fmt(s["accuracy_by_class"][cl]) for cl in classes), style="bold")
        console.print(c)
    if "contamination" in s:  # the prior saw some held-out problems with their answers
        c = s["contamination"]
        console.print("contamination: " + " | ".join(
            f"{side} {c[side]['n_problems']} problems, accuracy {_fmt(c[side]['accuracy'])}, pass@{k} "
            f"{_fmt(c[side][f'pass@{k}'])}" for side in ("contaminated", "clean")))
    sc = ", ".join(f"{k2} {v:.3f}" for k2, v in s["shortcuts"].items())
    console.print(f"well-formed {s['well_formed']:.3f} | parse failures {s.get('parse_failure', NAN):.3f} | "
                  f"mean length {s['mean_length']:.1f} | shortcuts: {sc}")
    if "cot_accuracy" in s:  # older summaries lack these
        sc = s["self_correction"]
        console.print(f"CoT accuracy (answer and every step right) {s['cot_accuracy']:.3f} | self-corrections: "
                      f"{sc['rate']:.3f} of completions, accuracy with {_fmt(sc['accuracy_with'])}, without "
                      f"{_fmt(sc['accuracy_without'])}")
    if prior:
        marks = {True: "[green]yes[/]", False: "[red]no[/]"}
        console.print("prior checks: " + ", ".join(f"{k2} {marks[v]}" for k2, v in prior.items() if isinstance(v, bool)))

    cmp = s.get("compare")  # the rest is printed only when the summary has it (older summaries lack it)
    if "passk" in s:
        pk = s["passk"]
        t = Table(title="pass@k (95% CI over problems)" + (" vs baseline" if cmp else ""))
        cols = ["k", "model", "CI"] + (["baseline", "model - baseline", "CI "] if cmp else [])
        for col in cols:
            t.add_column(col, justify="right")
        for i, kk in enumerate(pk["k"]):
            row = [str(kk), f"{pk['mean'][i]:.3f}", f"[{pk['ci_low'][i]:.3f}, {pk['ci_high'][i]:.3f}]"]
            if cmp:
                c = cmp["passk"]
                row += [f"{c['base'][i]:.3f}", f"{c['diff'][i]:+.3f}",
                        f"[{c['ci_low'][i]:+.3f}, {c['ci_high'][i]:+.3f}]"]
            t.add_row(*row)
        console.print(t)
    if cmp:
        a, d = cmp["accuracy"], cmp["format_decomposition"]
        cross = cmp["passk"]["crossover_k"]
        console.print(f"vs baseline {cmp['baseline']}: accuracy {a['baseline']:.3f} -> {a['model']:.3f} "
                      f"(delta {a['delta']:+.3f}, CI [{a['ci_low']:+.3f}, {a['ci_high']:+.3f}]) = format shift "
                      f"{d['format_shift']:+.3f} + within format {d['within_format']:+.3f}; pass@k crossover k: "
                      f"{cross if cross is not None else 'none'}")
    cal = s.get("calibration")
    if cal and cal["n_scored"]:
        console.print(f"calibration ({cal['n_scored']} with Conf:, {cal['n_missing']} without): "
                      f"ECE {_fmt(cal['ece'])} | "
                      f"Brier {_fmt(cal['brier'])} | AUROC {_fmt(cal['auroc'])} | mean conf {_fmt(cal['mean_conf'])} "
                      f"vs accuracy {_fmt(cal['accuracy_scored'])}")
    elif cal:
        console.print(f"calibration: no Conf: values in {cal['n']} completions")
    ent = s.get("entropy")
    if ent:
        console.print("token entropy (nats) / perplexity: " + " | ".join(
            f"{name} {_fmt(ent[name]['mean_entropy'])} / {_fmt(ent[name]['perplexity'])} (n={ent[name]['n_tokens']})"
            for name in ("planning", "execution", "all")))
    sem = s.get("semantic_entropy")
    if sem:
        console.print(f"strategies: {sem['n_strategies']} distinct, semantic entropy pooled {_fmt(sem['pooled'])} "
                      f"nats, per problem {_fmt(sem['mean_per_problem'])} nats")


def hf_eval_summary(s: dict) -> None:
    """An evaluation of a Hugging Face model on a data file (`evals.math_eval.evaluate_hf`'s summary):
    pass@k and maj@K, grading statuses, pass@k against the baseline, calibration of <confidence> tags."""
    k = s["samples"]
    console.print(f"{s['model']} on {s['data']}: {s['n_problems']} problems x {k} samples, template "
                  f"{s['template']}, backend {s['backend']}")
    t = Table()
    for col in ("metric", "value"):
        t.add_column(col)
    for name in [key for key in s if key.startswith("pass@")] + [f"maj@{k}", "format_ok"]:
        t.add_row(name, f"{s[name]:.3f}")
    console.print(t)
    st = s["status_counts"]
    console.print("grading: " + ", ".join(f"{name} {n}" for name, n in st.items())
                  + (f" | mean length {s['mean_length']:.1f} tokens, truncated {s['truncated']:.3f}"
                     if "mean_length" in s else ""))
    cmp = s.get("compare")
    if cmp:
        c, a = cmp["passk"], cmp["accuracy"]
        t = Table(title=f"pass@k: model - baseline ({cmp['baseline']}), 95% CI over problems")
        for col in ("k", "baseline", "model", "model - baseline", "CI"):
            t.add_column(col, justify="right")
        for i, kk in enumerate(c["k"]):
            t.add_row(str(kk), f"{c['base'][i]:.3f}", f"{c['other'][i]:.3f}", f"{c['diff'][i]:+.3f}",
                      f"[{c['ci_low'][i]:+.3f}, {c['ci_high'][i]:+.3f}]")
        console.print(t)
        cross = c["crossover_k"]
        console.print(f"accuracy {a['baseline']:.3f} -> {a['model']:.3f} (delta {a['delta']:+.3f}, CI "
                      f"[{a['ci_low']:+.3f}, {a['ci_high']:+.3f}]); pass@k crossover k: "
                      f"{cross if cross is not None else 'none'}")
    cal = s.get("calibration")
    if cal:
        console.print(f"calibration ({cal['n_scored']} with <confidence>, {cal['n_missing']} without): "
                      f"ECE {cal['ece']} | Brier {cal['brier']} | AUROC {cal['auroc']}")


# ------------------------------------------------------------------------------------------ retest
VERDICT_COLORS = {"reproduced": "green", "not reproduced": "red", "inconclusive": "yellow", "untestable": "dim"}


def retest_table(rep: dict) -> None:
    """One row per claim of a retest report: verdict (and Holm-adjusted), mechanism gates, effect and its 95% CI."""
    t = Table(title=f"priorlab retest ({rep['preset']}, {len(rep['seeds'])} seeds, {rep['elapsed_s'] / 60:.1f} min)")
    for col in ("claim", "verdict", "Holm", "mechanism active?", "effect", "95% CI", "MDE"):
        t.add_column(col)
    for c in rep["claims"]:
        ci = "-" if c["effect"] is None else f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
        eff = "-" if c["effect"] is None else f"{c['effect']:+.3f}"
        active = {True: "yes", False: "no: " + ", ".join(g["name"] for g in c["gates"] if not g["passed"]),
                  None: "no gates"}[c.get("mechanism_active")]
        holm = c.get("verdict_holm", c["verdict"])
        t.add_row(c["id"], f"[{VERDICT_COLORS[c['verdict']]}]{c['verdict']}[/]", f"[{VERDICT_COLORS[holm]}]{holm}[/]",
                  active, eff, ci, "-" if c.get("mde") is None else f"{c['mde']:.3f}")
    console.print(t)


def map_table(m: dict) -> None:
    """One row per cell of a regime map: the grid point, verdict, effect and its 95% CI, failed gates."""
    names = [a["name"] for a in m["axes"]]
    t = Table(title=f"regime map: {m['claim']} ({m['preset']}, {len(m['seeds'])} seeds, {m['elapsed_s'] / 60:.1f} min)")
    for col in (*names, "verdict", "effect", "95% CI", "failed gates"):
        t.add_column(col)
    for c in m["cells"]:
        ci = "-" if c["ci_low"] is None else f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
        eff = "-" if c["effect"] is None else f"{c['effect']:+.3f}"
        v = c["verdict"]
        t.add_row(*(f"{c['at'][n]:g}" if isinstance(c["at"][n], float) else str(c["at"][n]) for n in names),
                  f"[{VERDICT_COLORS.get(v, 'white')}]{v}[/]", eff, ci, ", ".join(c["failed_gates"]) or "-")
    console.print(t)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def plan_table(plan, what: str) -> None:
    """A sweep's plan (`lab.plan.Plan`): jobs by kind, cached, estimated time; nothing was run."""
    t = Table(title=f"plan: {what} (nothing run)")
    for col in ("kind", "jobs", "cached", "to run", "est. CPU time"):
        t.add_column(col, justify="left" if col == "kind" else "right")
    for kind, k in plan.by_kind.items():
        t.add_row(kind, str(k.jobs), str(k.cached), str(k.jobs - k.cached), _minutes(k.cpu_s))
    t.add_row("all", str(plan.jobs), str(plan.cached), str(plan.jobs - plan.cached), _minutes(plan.cpu_s))
    console.print(t)
    console.print(f"estimated wall time on this machine: {_minutes(plan.wall_s)} with {plan.workers} worker(s) "
                  f"(the local engine's schedule); {plan.cpu_s / 3600:.2f} CPU-hours on a Ray cluster", highlight=False)
    console.print(f"cost model: {plan.source}", highlight=False)


# ------------------------------------------------------------------------------------------ diff
def label(path: str | Path) -> str:
    """A short name for a checkpoint path: the run directory's name, not `model.safetensors`."""
    p = Path(path)
    if p.is_file() and (p.name.startswith("model.") or p.name.endswith(".index.json")):
        p = p.parent
    if p.name == "model" and (p.parent / "summary.json").is_file():  # RUN/model of an HF run: name the run
        p = p.parent
    return p.resolve().name or str(path)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _num(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def diff_tables(result: dict) -> None:
    """`analysis.params.diff_checkpoints`'s result: share changed and update rank per run and layer, then
    the Jaccard overlap of every pair of runs against its chance baselines."""
    measures = result["measures"]
    heads = {"bf16": "bf16", "fp32": "fp32", "atol": f"|Δ|>{result['atol']:g}" if result["atol"] is not None else ""}
    t = Table(title=f"share of parameters changed vs {label(result['base'])}; mean rank of 2-D updates / full")
    for col in ("run", "scope", "params", *(heads[m] for m in measures), "rank frac"):
        t.add_column(col, justify="left" if col in ("run", "scope") else "right",
                     no_wrap=col in ("run", "scope"))
    for i, r in enumerate(result["per_run"]):
        name = f"#{i} {label(r['run'])}"
        for scope, row in (("global", r["global"]), *r["per_layer"].items()):
            t.add_row(name if scope == "global" else "", scope, f"{row['numel']:,}",
                      *(_pct(row[f"frac_{m}"]) for m in measures), _num(row["mean_rank_frac"]),
                      style="bold" if scope == "global" else None)
    console.print(t)
    if result["overlap"]:
        o = Table(title="overlap of the bf16 changed sets (Jaccard) vs independent masks")
        for col in ("runs", "scope", "jaccard", "chance", "chance stratified", "chance magnitude"):
            o.add_column(col, justify="left" if col in ("runs", "scope") else "right",
                         no_wrap=col in ("runs", "scope"))
        for pair in result["overlap"]:
            name = f"#{pair['runs'][0]} & #{pair['runs'][1]}"
            for scope, row in (("global", pair["global"]), *pair["per_layer"].items()):
                o.add_row(name if scope == "global" else "", scope, _num(row["jaccard"]), _num(row["chance"]),
                          _num(row["chance_stratified"]), _num(row["chance_magnitude"]),
                          style="bold" if scope == "global" else None)
        console.print(o)


# ------------------------------------------------------------------------------------------ grade
def grade_warnings(summary: dict, file: Path) -> None:
    """On stderr: the malformed records skipped (--skip-bad) and the input fields the grades replaced."""
    if summary["skipped"]:
        err.print(f"[yellow]warning:[/] skipped {len(summary['skipped'])} malformed record(s) of {file}: "
                  + describe_bad([BadRecord(**b) for b in summary["skipped"]], 5, summary["skipped_unit"]),
                  highlight=False, soft_wrap=True)
    if summary["replaced_fields"]:
        err.print(f"[yellow]warning:[/] input fields replaced by grades: {', '.join(summary['replaced_fields'])}",
                  highlight=False)


def grade_summary(summary: dict) -> None:
    """Grading status counts and shares, then accuracy over all items and over the graded ones."""
    title = f"grades of {summary['n']} completions, style {summary['style']}"
    t = Table(title=title, min_width=len(title))
    for col in ("status", "count", "share"):
        t.add_column(col, justify="left" if col == "status" else "right")
    for s in STATUSES:
        c = summary["status_counts"][s]
        t.add_row(s, str(c), f"{c / summary['n']:.3f}")
    console.print(t)
    graded = summary["accuracy_graded"]
    console.print(f"accuracy {summary['accuracy']:.4f} ({summary['correct']}/{summary['n']}); "
                  f"over graded (no timeout/error): {'-' if graded is None else f'{graded:.4f}'}")
    pk = summary.get("passk") or {}
    if "k" in pk:
        console.print(f"pass@k over {pk['n_problems']} records x {pk['n_samples']} completions: " + ", ".join(
            f"k={k} {m:.3f} [{lo:.3f}, {hi:.3f}]" for k, m, lo, hi in zip(pk["k"], pk["mean"], pk["ci_low"],
                                                                         pk["ci_high"])), highlight=False)


# ------------------------------------------------------------------------------------------ plot
def figures(made: list[dict], out: Path) -> None:
    """Each figure drawn (its PNG and the input it came from), then where the index is."""
    for m in made:
        src = m["source"] if isinstance(m["source"], str) else ", ".join(m["source"])
        console.print(f"{m['files']['png']}  <- {src}")
    console.print(f"wrote {len(made)} figures to {out}/ (index: plots.json)")
