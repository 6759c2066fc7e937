"""Claims researchers write themselves: --claims-from FILE and the `priorlab.claims` entry-point group."""

import json
import os
import re
from pathlib import Path

import pytest

from priorlab import claims
from priorlab.claims import CLAIM_IDS, check_claim, load_file
from priorlab.claims.base import VERDICTS
from tests.conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "my_claims.py"


def test_the_readme_example_is_the_tested_file():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert EXAMPLE.read_text() in blocks
    assert len(EXAMPLE.read_text().splitlines()) <= 50


def test_example_claim_end_to_end_on_the_smoke_preset(tmp_path):
    out = tmp_path / "rt"
    proc = run_cli("retest", "--claims-from", EXAMPLE, "--preset", "smoke", "--out", out, "--quiet", timeout=600)
    rep = json.loads((out / "report.json").read_text())
    [c] = rep["claims"]
    assert c["id"] == "correct-reward-helps" and c["verdict"] in VERDICTS
    assert [g["name"] for g in c["gates"]] == ["base_accuracy_low", "base_accuracy_high"]
    assert c["metric"] == "accuracy(RL) - accuracy(base) (T=1)" and len(c["protocol_sha256"]) == 64
    assert "correct-reward-helps" in proc.stdout and "correct-reward-helps" in (out / "report.html").read_text()
    # a user claim beside built-in ones, by id
    rep2 = run_cli("retest", "--claims-from", EXAMPLE, "--claims", "correct-reward-helps,one-shot", "--preset",
                   "smoke", "--plan", "--out", out)
    assert "plan: retest correct-reward-helps,one-shot" in rep2.stdout


def test_bad_claim_files_get_one_line(tmp_path):
    cases = {
        "missing.py": None,
        "partial.py": "INFO = None\n",
        "broken.py": "raise RuntimeError('my bug')\n",
        "taken.py": EXAMPLE.read_text().replace('id="correct-reward-helps"', 'id="one-shot"'),
    }
    expected = {
        "missing.py": "no such file",
        "partial.py": "a claim needs INFO, PROTOCOL, jobs, analyze; missing PROTOCOL, jobs, analyze",
        "broken.py": "importing it failed: RuntimeError: my bug",
        "taken.py": "claim id 'one-shot' is already taken",
    }
    for name, text in cases.items():
        f = tmp_path / name
        if text is not None:
            f.write_text(text)
        proc = run_cli("retest", "--claims-from", f, "--preset", "smoke", "--plan", "--out", tmp_path / "o", check=False)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, name
        assert proc.stderr.strip() == f"error: --claims-from {f}: {expected[name]}", name


def test_an_installed_package_adds_claims_through_entry_points(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "labclaims.py").write_text(EXAMPLE.read_text().replace('"correct-reward-helps"', '"installed-claim"'))
    dist = site / "labclaims-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: labclaims\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[priorlab.claims]\ninstalled-claim = labclaims\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    proc = run_cli("retest", "--preset", "smoke", "--plan", "--out", tmp_path / "o", env=env)
    assert "plan: retest all claims" in proc.stdout
    proc = run_cli("retest", "--claims", "installed-claim", "--preset", "smoke", "--plan", "--out", tmp_path / "o",
                   env=env)
    assert "plan: retest installed-claim" in proc.stdout
    bad = run_cli("retest", "--claims", "nope", "--plan", "--out", tmp_path / "o", env=env, check=False)
    assert bad.returncode == 2 and "installed-claim" in bad.stderr  # listed among the valid ids


def test_check_claim_and_load_file_by_hand(tmp_path, monkeypatch):
    monkeypatch.setattr(claims, "_ADDED", {})  # this process's registry, restored after the test
    assert check_claim(__import__("priorlab.claims.one_shot", fromlist=["x"]), "x") == "one-shot"
    f = tmp_path / "two.py"
    f.write_text(EXAMPLE.read_text() + "\nimport types\nCLAIMS = [types.SimpleNamespace(INFO=ClaimInfo(id='c-a', "
                 "claim='a', source='s', paper='p'), PROTOCOL=PROTOCOL, jobs=jobs, analyze=analyze)]\n")
    assert load_file(f) == ["c-a"]
    with pytest.raises(ValueError, match="already taken"):
        load_file(tmp_path / "two.py")  # the same id from another module object
    assert "c-a" not in CLAIM_IDS


def test_a_claim_written_as_a_class_registers(monkeypatch):
    monkeypatch.setattr(claims, "_ADDED", {})
    import priorlab
    from priorlab.claims.base import ClaimInfo

    ns = {}
    exec(EXAMPLE.read_text(), ns)  # noqa: S102 - the example's functions, reused as methods

    class Mine(priorlab.Claim):
        INFO = ClaimInfo(id="as-a-class", claim="c", source="s", paper="p")
        PROTOCOL = ns["PROTOCOL"]

        def jobs(self, lab, seeds):
            return ns["jobs"](lab, seeds)

    assert priorlab.register_claim(Mine()) == "as-a-class"
    assert claims.get_claim("as-a-class").INFO.id == "as-a-class" and "as-a-class" in claims.parse_claims(None)
    with pytest.raises(NotImplementedError):
        Mine().analyze(None, None, [0], None)
