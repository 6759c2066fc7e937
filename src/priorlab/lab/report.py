"""The HTML report of a retest: self-contained (plots embedded as data URIs), readable without network.

    priorlab report runs/retest        # re-render report.html from report.json

At the top, a table of the verdicts (unadjusted and Holm-adjusted), whether each claim's mechanism was
active (every gate passed) and the minimum detectable effect, grouped by the question each claim bears on
(`lab.questions`); the pairs of claims that disagree in the literature side by side, with what the world
says about each; then, per claim, the claim and its source,
the protocol (with its sha256, and what `--protocol` overrode), the gates table (value next to
threshold, pass/fail), the plot that shows the evidence, the effect with its interval (and at greedy
decoding) next to the paper's number, the verdict and the rule that produced it, and the numbers behind it;
and the claim's regime maps (`priorlab retest --map`, `lab.maps`): the heatmap and a table of its cells.
Maps of claims this report did not retest get a section of their own.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from priorlab.common import runfiles
from priorlab.lab.questions import disagreements, groups

COLORS = {"reproduced": "#1a7f37", "not reproduced": "#cf222e", "inconclusive": "#9a6700", "untestable": "#57606a"}
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1f2328;line-height:1.45}
h1{margin-bottom:.2em} .sub{color:#57606a;margin-top:0}
table{border-collapse:collapse;width:100%;margin:1em 0} th,td{border-bottom:1px solid #d0d7de;padding:.35em .5em;
text-align:left;vertical-align:top;font-size:.92em} th{background:#f6f8fa}
.v{font-weight:600;padding:.1em .5em;border-radius:1em;color:#fff;white-space:nowrap}
section{border-top:2px solid #d0d7de;margin-top:2em;padding-top:.5em}
.kv{display:grid;grid-template-columns:9em 1fr;gap:.2em 1em;font-size:.93em} .kv div:nth-child(odd){color:#57606a}
img{max-width:49%;border:1px solid #d0d7de;margin:.3em .3em 0 0} pre{background:#f6f8fa;padding:.6em;overflow:auto;
font-size:.8em;max-height:24em} .num{font-variant-numeric:tabular-nums}
img.map{max-width:100%} .pass{color:#1a7f37;font-weight:600} .fail{color:#cf222e;font-weight:600} .gates td{font-size:.88em}
"""


def _badge(v: str) -> str:
    return f'<span class="v" style="background:{COLORS.get(v, "#57606a")}">{html.escape(v)}</span>'


def _fmt(x) -> str:
    return "–" if x is None else f"{x:+.3f}" if isinstance(x, (int, float)) else html.escape(str(x))


def _interval(c: dict) -> str:
    if c.get("effect") is None:
        return "–"
    return f'{_fmt(c["effect"])} <span class="sub">[{_fmt(c["ci_low"])}, {_fmt(c["ci_high"])}]</span>'


def _banner(report: dict) -> str:
    """The smoke preset's budgets only check the plumbing: say so above everything else."""
    if report.get("preset") != "smoke":
        return ""
    return ('<p style="background:#fff8c5;border:1px solid #d4a72c;padding:.6em"><b>Smoke preset: these budgets only '
            "check the plumbing (tiny models, a few RL steps). Its verdicts are not evidence about any claim.</b></p>")


def _num(x, spec: str) -> str:
    return "–" if x is None else format(x, spec)


def _active(c: dict) -> str:
    a = c.get("mechanism_active")
    if a is None:
        return '<span class="sub">no gates declared</span>'
    if a:
        return '<span class="pass">yes</span>'
    return '<span class="fail">no</span>: ' + html.escape(", ".join(g["name"] for g in c["gates"] if not g["passed"]))


def _gates(c: dict) -> str:
    if not c.get("gates"):
        return ""
    rows = "".join(
        f'<tr><td>{html.escape(g["name"])}</td><td class="num">{_num(g["value"], ".4g")}</td>'
        f'<td class="num">{html.escape(g["op"])} {g["threshold"]:g}</td>'
        f'<td class="{"pass" if g["passed"] else "fail"}">{"pass" if g["passed"] else "FAIL"}</td>'
        f'<td>{html.escape(g.get("why", ""))}</td></tr>' for g in c["gates"])
    return ('<table class="gates"><tr><th>gate (mechanism precondition)</th><th>measured</th><th>needs</th>'
            f"<th></th><th>why</th></tr>{rows}</table>")


def _img(path: Path, cls: str = "") -> str:
    if not path.is_file():
        return f"<p>(missing plot {html.escape(str(path))})</p>"
    data = base64.b64encode(path.read_bytes()).decode()
    klass = f' class="{cls}"' if cls else ""
    return f'<img{klass} alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _value(v) -> str:
    return format(v, "g") if isinstance(v, float) else str(v)


def _map(mp: dict, root: Path) -> str:
    """A regime map: its axes, verdict counts, heatmap and (folded) one row per cell from OUT/maps/CLAIM.json."""
    axes = " × ".join(f'{a["name"]} ({", ".join(_value(v) for v in a["values"])})' for a in mp["axes"])
    counts = ", ".join(f"{n} {v}" for v, n in mp.get("verdicts", {}).items())
    rows = ""
    path = root / mp["file"]
    if path.is_file():
        for c in json.loads(path.read_text())["cells"]:
            at = ", ".join(f"{k}={_value(v)}" for k, v in c["at"].items())
            rows += (f'<tr><td>{html.escape(at)}</td><td>{_badge(c["verdict"])}</td><td class="num">{_interval(c)}</td>'
                     f'<td>{html.escape(", ".join(c["failed_gates"]) or "–")}</td></tr>')
    table = ("<details><summary>cells</summary><table><tr><th>point</th><th>verdict</th><th>effect [95% CI]</th>"
             f"<th>failed gates</th></tr>{rows}</table></details>") if rows else ""
    return (f'<h3>Regime map: {html.escape(axes)}</h3><p class="sub">preset {html.escape(str(mp.get("preset")))} · '
            f'{mp["cells"]} cells: {html.escape(counts)} · {html.escape(mp["file"])}</p>'
            f'{_img(root / mp["heatmap"]["png"], "map")}{table}')


def _disagreements(claims: list[dict], pairs: list[dict]) -> str:
    """The pairs of claims that disagree in the literature (`questions.disagreements`), side by side, with what
    the world says."""
    rows = "".join(
        f"<tr><td>{html.escape(d['debate'])}</td>"
        + "".join(f'<td><a href="#{cid}">{html.escape(cid)}</a> {_badge(v)}<br><span class="num">'
                  f'{_interval(next(c for c in claims if c["id"] == cid))}</span></td>'
                  for cid, v in zip(d["claims"], d["verdicts"]))
        + f"<td>{html.escape(d['says'])}</td></tr>" for d in pairs)
    return ('<section id="disagreements"><h2>Disagreements in the literature</h2><table><tr><th>the debate</th>'
            f"<th>one side</th><th>the other</th><th>what this world says</th></tr>{rows}</table></section>")


def render(report: dict, root: Path) -> str:
    """The report's HTML from report.json's dict; figures under `root` are embedded."""
    claims, maps = report["claims"], report.get("maps", [])
    counts = {v: sum(c["verdict"] == v for c in claims) for v in COLORS}
    by_id = {c["id"]: c for c in claims}
    grouped = groups(list(by_id))
    rows = "".join(
        f'<tr><th colspan="8">{html.escape(question)}</th></tr>' + "".join(
            f'<tr><td><a href="#{c["id"]}">{html.escape(c["id"])}</a></td><td>{_badge(c["verdict"])}</td>'
            f'<td>{_badge(c.get("verdict_holm", c["verdict"]))}</td><td>{_active(c)}</td>'
            f'<td class="num">{_interval(c)}</td><td class="num">{_num(c.get("mde"), ".3f")}</td>'
            f'<td>{html.escape(c["metric"])}</td><td>{html.escape(c["paper"])}</td></tr>'
            for c in (by_id[i] for i in ids)) for question, ids in grouped)
    pairs = disagreements(claims)
    sections = [_disagreements(claims, pairs)] if pairs else []
    for c in (by_id[i] for _, ids in grouped for i in ids):
        why = "Why untestable" if c["verdict"] == "untestable" else "Note"
        reason = f'<p><b>{why}:</b> {html.escape(c["reason"])}</p>' if c.get("reason") else ""
        kv = "".join(f"<div>{k}</div><div>{v}</div>" for k, v in [
            ("claim", html.escape(c["claim"])), ("source", html.escape(c["source"])),
            ("protocol", html.escape(c["protocol"])), ("metric", html.escape(c["metric"])),
            ("effect [95% CI]", _interval(c)), ("paper", html.escape(c["paper"])),
            ("effect at greedy", "–" if not c.get("effect_greedy") or c["effect_greedy"]["estimate"] is None else
             _interval({"effect": c["effect_greedy"]["estimate"], "ci_low": c["effect_greedy"]["ci_low"],
                        "ci_high": c["effect_greedy"]["ci_high"]})),
            ("decoding judged", html.escape(c.get("decoding", "T=1"))),
            ("MDE (80% power)", "–" if c.get("mde") is None else f'{c["mde"]:.3f} (δ = {c.get("delta", 0):g})'),
            ("verdict", _badge(c["verdict"]) + " · Holm-adjusted " + _badge(c.get("verdict_holm", c["verdict"]))),
            ("mechanism active?", _active(c)), ("rule", html.escape(c["rule"])),
            ("protocol sha256", html.escape((c.get("protocol_sha256") or "")[:16])
             + (f' <span class="fail">overridden: {html.escape(", ".join(c["protocol_overridden"]))}</span>'
                if c.get("protocol_overridden") else "")),
            ("seeds", html.escape(", ".join(map(str, c["seeds"]))))])
        plots = "".join(_img(root / p) for p in c.get("plots", []))
        plots += "".join(_map(mp, root) for mp in maps if mp["claim"] == c["id"])
        metrics = html.escape(json.dumps(c["metrics"], indent=1, default=str))
        sections.append(f'<section id="{c["id"]}"><h2>{html.escape(c["id"])} {_badge(c["verdict"])}</h2>'
                        f'<div class="kv">{kv}</div>{reason}{_gates(c)}<div>{plots}</div>'
                        f"<details><summary>numbers behind the verdict</summary><pre>{metrics}</pre></details></section>")
    retested = {c["id"] for c in claims}
    orphans = [mp for mp in maps if mp["claim"] not in retested]
    if orphans:
        sections.append('<section id="maps"><h2>Regime maps</h2><p>Claims mapped in this directory without a '
                        "retest of the claim itself; each cell is the claim's protocol at that point, judged by "
                        "its rule.</p>" + "".join(f'<h2 id="map-{html.escape(mp["claim"])}">{html.escape(mp["claim"])}'
                                                 f"</h2>{_map(mp, root)}" for mp in orphans) + "</section>")
    v = report["versions"]
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "none retested here, only regime maps"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>priorlab retest ({report['preset']})</title>
<style>{CSS}</style></head><body>
<h1>priorlab retest</h1>{_banner(report)}
<p class="sub">preset <b>{html.escape(report['preset'])}</b> · seeds {html.escape(str(report.get('seeds')))} ·
{report['elapsed_s'] / 60:.1f} min · {html.escape(report.get('created', ''))} · priorlab {html.escape(v['code'])},
torch {html.escape(v['torch'])} · engine {html.escape(report.get('engine', 'local'))}</p>
<p>{len(claims)} claims: {summary}. Effects are estimates with 95% bootstrap intervals over seeds and held-out
problems; each verdict follows the rule printed with it. A verdict other than <i>untestable</i> is given only
when every gate of the claim's mechanism passed; the Holm column adjusts for the number of claims tested
here; MDE is the smallest effect this design detects with 80% power.</p>
<table><tr><th>claim</th><th>verdict</th><th>Holm-adjusted</th><th>mechanism active?</th><th>effect [95% CI]</th>
<th>MDE</th><th>metric</th><th>paper</th></tr>{rows}</table>
{''.join(sections)}
</body></html>"""


def write_html(report: dict, root: str | Path) -> Path:
    """Render and write OUT/report.html atomically; its path."""
    root = Path(root)
    runfiles.atomic_write_text(root / "report.html", render(report, root))
    return root / "report.html"


def rerender(root: str | Path) -> Path:
    """Re-render OUT/report.html from OUT/report.json (`priorlab report`)."""
    root = Path(root)
    return write_html(runfiles.read_json(root / "report.json"), root)
