import json

import pytest

from priorlab.world.mixtures import MixtureError, load_mixture, preset_names


def test_presets_ship_and_load():
    names = preset_names()
    assert {"code-prior", "nl-prior", "balanced", "code-prior-conf"} <= set(names)
    for n in names:
        m = load_mixture(n)
        assert abs(sum(f.share for f in m.formats.values()) - 1) < 1e-6
    assert "code" not in load_mixture("nl-prior").formats
    assert load_mixture("code-prior-conf").confidence > 0


def test_user_yaml_and_json_files(tmp_path):
    y = tmp_path / "mine.yaml"
    y.write_text("formats: {code: 0.5, nl: {share: 0.5, corrupt: 0.2}}\ndifficulty: {'4x2': 1}\ndocuments: 10\n")
    m = load_mixture(y)
    assert m.name == "mine" and m.formats["nl"].corrupt == 0.2 and m.difficulty == {"4x2": 1.0}
    j = tmp_path / "mine.json"
    j.write_text(json.dumps({"formats": {"direct": 1.0}}))
    assert load_mixture(j).formats["direct"].share == 1.0


@pytest.mark.parametrize("text, field", [
    ("formats: {code: 0.5, nl: 0.4}", "formats: shares sum to 0.9"),
    ("formats: {code: 1.0, poem: 0.0}", "formats.poem"),
    ("formats: {code: {share: abc}}", "formats.code.share"),
    ("formats: {code: {share: 1.0, corrupt: 2}}", "formats.code.corrupt"),
    ("formats: {nl: {share: 1.0, misconception: sloppy}}", "formats.nl.misconception"),
    ("formats: {code: 1.0}\ncolour: red", "field colour"),
    ("formats: {code: 1.0}\ndifficulty: {'9x1': 1}", "difficulty.9x1"),
    ("formats: {code: 1.0}\ndocuments: -3", "documents"),
    ("formats: {code: 1.0}\nconfidence_mode: psychic", "confidence_mode"),
    ("- just\n- a list", "mapping"),
    ("formats: {code: [1, 2", "invalid YAML"),
])
def test_invalid_files_name_the_bad_field(tmp_path, text, field):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(MixtureError, match=field.replace("(", r"\(")):
        load_mixture(f)


def test_missing_file_or_preset():
    with pytest.raises(MixtureError, match="neither a preset"):
        load_mixture("no-such-prior")
