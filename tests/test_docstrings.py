"""Every public function and method of the package has a docstring (issue 17: the Python API is documented)."""

import ast
from pathlib import Path

import priorlab

PACKAGE = Path(priorlab.__file__).parent


def undocumented(root: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())

        def visit(node, prefix=""):
            for n in ast.iter_child_nodes(node):
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith("_"):
                    if not ast.get_docstring(n):
                        out.append(f"{path.relative_to(root)}:{n.lineno} {prefix}{n.name}")
                elif isinstance(n, ast.ClassDef) and not n.name.startswith("_"):
                    visit(n, prefix + n.name + ".")

        visit(tree)
    return out


def test_every_public_function_has_a_docstring():
    missing = undocumented()
    assert not missing, f"{len(missing)} public functions without a docstring:\n" + "\n".join(missing)


def test_the_check_sees_a_missing_docstring(tmp_path):
    (tmp_path / "mod.py").write_text('def documented():\n    """Yes."""\n\n\ndef bare():\n    pass\n\n\n'
                                     'class K:\n    def method(self):\n        return 1\n\n    def _private(self):\n'
                                     '        return 2\n')
    assert undocumented(tmp_path) == ["mod.py:5 bare", "mod.py:10 K.method"]
