"""The shape of services/ stays what README.md's layout draws: floors that import only downward (import-linter,
`.importlinter`), no import loop among the project's modules (imports inside functions count), and each
collection read and written by the one package that declares it (services.schema)."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from services import schema

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("services", "api", "app_pages", "sandbox", "scripts")
# What a pymongo Database has besides its collections.
DATABASE_ATTRS = {"command", "client", "_client", "name", "list_collection_names", "get_collection",
                  "create_collection", "drop_collection", "with_options", "codec_options", "read_preference",
                  "write_concern", "read_concern", "aggregate", "watch"}


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300,
                          check=False)


def test_import_contracts_hold():
    out = _lint_imports(ROOT)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    """The gate is not decorative: the ledger reaching up to reports, from inside a function, fails it."""
    for name in ("services", "api", "app_pages"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    posting = tmp_path / "services" / "ledger" / "posting.py"
    posting.write_text(posting.read_text() + "\n\ndef _upward():\n    from services import reports\n"
                       "    return reports\n")
    out = _lint_imports(tmp_path)
    assert out.returncode != 0
    assert "services.ledger.posting -> services.reports" in out.stdout


# ------------------------------------------------------------------------------------------ loops

def _modules() -> dict[str, Path]:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    """Project modules `name` imports anywhere in its file (a package's own children excluded)."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for target in targets:
            t = target
            while t and t not in mods:
                t = t.rpartition(".")[0]
            if t and t != name and not t.startswith(name + ".") and not name.startswith(t + "."):
                out.add(t)
    return out


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_loop_among_the_projects_modules():
    mods = _modules()
    graph = {m: _imports(m, p, mods) for m, p in mods.items()}
    assert _loops(graph) == []


def test_the_loop_finder_finds_a_loop():
    assert _loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# ------------------------------------------------------------------------------------ collections

def _collection_uses() -> dict[str, set[str]]:
    """Collection -> the services packages (or top-level modules) whose code names it: `db.<name>`,
    `self.db.<name>`, `db["<name>"]`."""
    uses: dict[str, set[str]] = {}
    for path in (ROOT / "services").rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("").parts
        owner = ".".join(rel[:2])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = None
            if isinstance(node, ast.Attribute) and node.attr not in DATABASE_ATTRS and _is_db(node.value):
                name = node.attr
            elif isinstance(node, ast.Subscript) and _is_db(node.value) and isinstance(node.slice, ast.Constant):
                name = node.slice.value
            if isinstance(name, str):
                uses.setdefault(name, set()).add(owner)
    return uses


def _is_db(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "db") or (isinstance(node, ast.Attribute) and node.attr == "db")


def test_each_collection_is_read_and_written_by_exactly_one_package():
    uses = _collection_uses()
    undeclared = sorted(set(uses) - set(schema.OWNER_OF))
    assert undeclared == [], f"collections no package declares: {undeclared}"
    shared = {c: sorted(who) for c, who in uses.items() if who != {schema.OWNER_OF[c]}}
    assert shared == {}, "collections named outside their owner (owner: services.schema.OWNER_OF)"
    unused = sorted(set(schema.OWNER_OF) - set(uses))
    assert unused == [], f"declared but never used: {unused}"
