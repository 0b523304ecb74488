"""The suite's own shape: no test module is a fixture library for another. What tests share lives in
tests/support (helpers, and fixtures registered by tests/conftest.py); a test module imports nothing else
from tests/, and tests/support imports no test module."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _module_name(path: Path, top: Path) -> str:
    parts = list(path.relative_to(top).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path, top: Path) -> set[str]:
    """Every module `path` imports (at any depth, inside functions too), as absolute dotted names; for
    `from X import a`, both X and X.a (a may be a submodule). `top` is the folder holding tests/."""
    name = _module_name(path, top)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def _allowed(name: str) -> bool:
    return name == "tests.support" or name.startswith("tests.support.")


def _test_package_imports(path: Path, top: Path) -> list[str]:
    return sorted(n for n in _imported(path, top) if n.startswith("tests.") and not _allowed(n))


def offenders(root: Path = TESTS) -> dict[str, list[str]]:
    """{module under tests/: the modules of tests/ it imports that are not tests.support}."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        bad = _test_package_imports(path, root.parent)
        if bad:
            found[str(path.relative_to(root.parent))] = bad
    return found


def test_no_module_under_tests_imports_a_test_module_or_a_conftest():
    assert offenders() == {}


def test_the_check_sees_every_way_of_importing_a_test_module(tmp_path):
    """The walk is only worth its green if it would catch each form: plain, from, inside a function,
    relative, and a conftest taken as a library."""
    pkg = tmp_path / "tests"
    (pkg / "support").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "support" / "__init__.py").write_text("")
    (pkg / "support" / "ok.py").write_text("from tests.support import other\nimport tests.support.x\n")
    (pkg / "test_a.py").write_text("import tests.test_b\nfrom tests.support.ok import thing\n")
    (pkg / "test_b.py").write_text("def f():\n    from tests.conftest import make_target\n")
    (pkg / "test_c.py").write_text("from . import test_a\nfrom .support import ok\n")
    (pkg / "test_d.py").write_text("from tests import test_a, support\n")
    (pkg / "support" / "bad.py").write_text("from ..test_a import x\n")
    got = offenders(pkg)
    assert got == {"tests/support/bad.py": ["tests.test_a", "tests.test_a.x"],
                   "tests/test_a.py": ["tests.test_b"],
                   "tests/test_b.py": ["tests.conftest", "tests.conftest.make_target"],
                   "tests/test_c.py": ["tests.test_a"],
                   "tests/test_d.py": ["tests.test_a"]}
