from pathlib import Path

from priorlab.claims import CLAIM_IDS
from priorlab.lab.questions import OTHER, QUESTIONS, disagreements, groups, says
from priorlab.lab.report import render


def entry(cid, verdict, effect=0.1, failed=()):
    gates = [{"name": g, "value": 0.001, "op": ">=", "threshold": 0.01, "passed": False, "why": ""} for g in failed]
    return {"id": cid, "verdict": verdict, "effect": effect, "ci_low": effect - 0.05, "ci_high": effect + 0.05,
            "gates": gates or [{"name": "g", "value": 1.0, "op": ">=", "threshold": 0.5, "passed": True, "why": ""}]}


def test_every_built_in_claim_has_one_question():
    placed = [c for ids in QUESTIONS.values() for c in ids]
    assert sorted(placed) == sorted(CLAIM_IDS) and len(placed) == len(set(placed))
    assert groups(["calibration", "mine", "spurious-rewards"]) == [
        ("Reward: selection or creation?", ["spurious-rewards"]), ("Calibration", ["calibration"]), (OTHER, ["mine"])]


def test_what_the_world_says_by_hand():
    a, b = entry("passk-boundary", "reproduced"), entry("prolonged-rl", "not reproduced")
    assert says(a, b) == ("In this world passk-boundary holds and prolonged-rl does not (its mechanism acted, the "
                          "effect was absent).")
    assert says(b, a).startswith("In this world passk-boundary holds")
    assert says(a, entry("cot-passk", "reproduced")).startswith("Both hold in this world")
    assert says(b, entry("cot-passk", "not reproduced")).startswith("Neither holds")
    assert "cot-passk is inconclusive" in says(a, entry("cot-passk", "inconclusive"))
    u = says(entry("spurious-rewards", "untestable", failed=["clip_frac_random"]), entry("contamination", "reproduced"))
    assert "spurious-rewards is untestable here (clip_frac_random 0.001 (needs >= 0.01))" in u
    assert "--map spurious-rewards" in u


def test_pairs_appear_when_both_claims_ran_and_the_report_shows_them_side_by_side(tmp_path: Path):
    entries = [entry("passk-boundary", "untestable", failed=["k_max"]), entry("cot-passk", "reproduced"),
               entry("calibration", "reproduced")]
    d = disagreements(entries)
    assert [x["claims"] for x in d] == [["passk-boundary", "cot-passk"]]
    assert d[0]["verdicts"] == ["untestable", "reproduced"] and "k_max" in d[0]["says"]
    for e in entries:
        e.update(claim="c", source="s", paper="p", metric="m", protocol="pr", rule="r", seeds=[0], metrics={},
                 delta=0.0, mde=0.1, verdict_holm=e["verdict"], reason="")
    report = {"claims": entries, "preset": "smoke", "elapsed_s": 1.0, "seeds": [0],
              "versions": {"code": "x", "torch": "y"}}
    html = render(report, tmp_path)
    assert html.count('id="disagreements"') == 1 and "what this world says" in html
    assert html.index("Coverage: does RL expand") < html.index("Calibration")
    assert html.index('<section id="passk-boundary">') < html.index('<section id="calibration">')
    assert disagreements([entry("calibration", "reproduced")]) == []
