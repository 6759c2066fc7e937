import json

import numpy as np
import pytest

from priorlab.evals.world_eval import contamination_split
from priorlab.world.contamination import Contamination, chosen, contaminated_problems, contaminated_set, document
from priorlab.world.corpus import documents
from priorlab.world.mixtures import MixtureError, mixture_from_dict
from priorlab.world.tasks import Difficulty, Problem, held_out_problems

RAW = {"formats": {"code": {"share": 1.0}}, "difficulty": {"3x1": 1.0}, "documents": 50,
       "contaminate": {"fraction": 0.5, "repeats": 3, "form": "answer", "pool": 40, "seed": 0}}


def test_choice_is_a_pure_function_of_the_problem_at_about_the_fraction():
    pool = held_out_problems(Difficulty(3, 1), 200, seed=0)
    picks = [chosen(p, 0.3) for p in pool]
    assert picks == [chosen(p, 0.3) for p in pool] and 0.2 < np.mean(picks) < 0.4
    assert not any(chosen(p, 0.0) for p in pool) and all(chosen(p, 1.0) for p in pool)
    assert all(chosen(p, 0.6) for p in pool if chosen(p, 0.3))  # nested: a larger fraction keeps the smaller's picks


def test_contaminated_copies_are_spread_among_the_regular_documents():
    mix = mixture_from_dict(RAW)
    docs = list(documents(mix, seed=0))
    is_copy = [p.split == "test" for p, _, _ in docs]
    regular = [d for d, c in zip(docs, is_copy) if not c]
    extra = [d for d, c in zip(docs, is_copy) if c]
    # the regular documents are exactly the clean mixture's, in order
    clean = list(documents(mixture_from_dict({k: v for k, v in RAW.items() if k != "contaminate"}), seed=0))
    assert [t for _, _, t in regular] == [t for _, _, t in clean] and len(regular) == 50
    picked = contaminated_problems(mix.contaminate, [Difficulty(3, 1)])
    assert len(extra) == 3 * len(picked) and 10 < len(picked) < 30
    assert sorted(p.expr for p, _, _ in extra) == sorted(p.expr for p in picked for _ in range(3))
    # spread, not a block after the rest: copies sit among the regular documents, and a problem's copies
    # are not all side by side
    where = [i for i, c in enumerate(is_copy) if c]
    assert where[0] < len(docs) // 4 and where[-1] > len(docs) // 2
    runs = sum(1 for a, b in zip(extra, extra[1:]) if a[0].expr == b[0].expr)
    assert runs < len(extra) // 3
    assert list(documents(mix, seed=0)) == docs  # deterministic
    p = picked[0]
    copy = next(t for q, _, t in extra if q.expr == p.expr)
    assert copy == f"Q: {p.expr}=?\nA: {p.answer}" and p.split == "test"
    assert set(p.expr for p in picked) <= {q.expr for q in held_out_problems(Difficulty(3, 1), 40, 0)}
    sol = document(p, Contamination(fraction=1, form="solution", solution_format="nl"))
    assert sol.startswith(f"Q: {p.expr}=?\nThink: ") and sol.endswith(f"A: {p.answer}")


def test_contaminated_set_from_a_saved_spec_and_the_eval_split():
    mix = mixture_from_dict(RAW)
    spec = json.loads(json.dumps(mix.to_dict()))  # as a run's config.json keeps it
    hit = contaminated_set(spec)
    assert hit == {p.expr for p in contaminated_problems(mix.contaminate, [Difficulty(3, 1)])}
    assert contaminated_set({"formats": {}, "difficulty": {"3x1": 1}}) == set()
    p1, p2 = Problem.from_expr("1+2+3"), Problem.from_expr("4+2-1")
    comps = [[{"correct": True}, {"correct": True}], [{"correct": False}, {"correct": True}]]
    s = contamination_split([p1, p2], comps, {"1+2+3"})
    assert s == {"contaminated": {"n_problems": 1, "accuracy": 1.0, "pass@2": 1.0},
                 "clean": {"n_problems": 1, "accuracy": 0.5, "pass@2": 1.0}}


@pytest.mark.parametrize("bad, field", [({"fraction": 2}, "contaminate.fraction"), ({"repeats": 0}, "contaminate.repeats"),
                                        ({"form": "poem"}, "contaminate.form"), ({"oops": 1}, "contaminate.oops"),
                                        ({"pool": 1.5}, "contaminate.pool")])
def test_bad_contamination_fields_name_the_field(bad, field):
    with pytest.raises(MixtureError, match=field.replace(".", r"\.")):
        mixture_from_dict({**RAW, "contaminate": {**RAW["contaminate"], **bad}})


def test_the_readme_memorisation_mixture_loads_and_contaminates_6x2():
    from pathlib import Path

    from priorlab.world.mixtures import load_mixture

    mix = load_mixture(str(Path(__file__).parents[1] / "docs" / "contaminate-6x2.yaml"))
    assert mix.contaminate is not None and mix.contaminate.repeats == 256
    hit = contaminated_problems(mix.contaminate, [Difficulty(6, 2)])
    assert 35 < len(hit) < 65 and all(p.split == "test" and p.digits == 2 for p in hit)
