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


def test_derived_mixture_sets_one_share_and_rescales_the_others():
    from priorlab.world.mixtures import with_share

    m = load_mixture("code-prior-conf@code=0.2")
    # code .35 -> .2; nl .45 and direct .20 share the remaining .8 in their ratio .45 : .20 (sum .65)
    assert m.formats["code"].share == 0.2
    assert m.formats["nl"].share == pytest.approx(0.45 * 0.8 / 0.65)  # 0.553846...
    assert m.formats["direct"].share == pytest.approx(0.20 * 0.8 / 0.65)  # 0.246153...
    assert sum(f.share for f in m.formats.values()) == pytest.approx(1.0)
    base = load_mixture("code-prior-conf")
    assert m.formats["nl"].misconception == "sign-drop" and m.formats["direct"].corrupt == 0.5  # noise kept
    assert (m.difficulty, m.confidence, m.documents) == (base.difficulty, base.confidence, base.documents)
    assert m.name == "code-prior-conf@code=0.2" and list(m.formats) == list(base.formats)  # named by its recipe
    assert load_mixture("code-prior-conf@code=0.2") == with_share(base, "code", 0.2)
    # a format the prior lacks comes in clean; the others give up 10% in proportion (nl .8 -> .72, direct .2 -> .18)
    n = load_mixture("nl-prior@code=0.1")
    assert n.formats["code"].corrupt == 0.0
    assert [n.formats[f].share for f in ("nl", "direct")] == pytest.approx([0.72, 0.18])
    assert load_mixture("code-prior-conf@code=1").formats["nl"].share == 0.0


@pytest.mark.parametrize("spec, needle", [
    ("code-prior-conf@code=lots", "not a number"), ("code-prior-conf@code=1.5", "in [0.0, 1.0]"),
    ("code-prior-conf@poem=0.2", "unknown format"), ("nowhere@code=0.2", "neither a preset"),
])
def test_derived_mixture_errors(spec, needle):
    with pytest.raises(MixtureError) as e:
        load_mixture(spec)
    assert needle in str(e.value)
