"""The package's layering rules, checked from its source.

Run ``python -m tests.architecture`` from the repository root: it prints every broken rule and
exits 1, or prints nothing and exits 0. ``tests/test_architecture.py`` runs the same checks.

The rules (docs/architecture.md explains why):

- no import cycles between the package's modules. Imports inside functions count (they run too);
  imports under ``if TYPE_CHECKING:`` do not (they never run). Importing ``a.b.c`` also runs
  ``a/__init__`` and ``a/b/__init__``, so those count as edges as well;
- no module over ``MAX_LINES`` lines;
- only ``ethics_audit.airflow`` imports Airflow;
- only ``ethics_audit.store`` imports SQLAlchemy or Alembic, i.e. only the store speaks to the
  results database. ``SQL_SOURCE_READERS`` read the *audited* data from a user's SQL source,
  which is not the results database.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "ethics_audit"
ROOT = Path(__file__).resolve().parents[1] / "plugins" / PACKAGE
MAX_LINES = 400
AIRFLOW_ADAPTER = f"{PACKAGE}.airflow"
STORE = f"{PACKAGE}.store"
SQL_SOURCE_READERS = (f"{PACKAGE}.sources",)


@dataclass
class Module:
    name: str
    path: Path
    lines: int
    imports: set[tuple[str, str | None]] = field(default_factory=set)  # (from, name) per imported name
    internal: set[str] = field(default_factory=set)  # modules of the package it depends on


def _module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST):
    """Every import statement that can run (skipping ``if TYPE_CHECKING:`` bodies)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    # ``from a import b`` may import the submodule a.b; the caller resolves what exists.
    return [source, *(f"{source}.{alias.name}" for alias in node.names)]


def load(root: Path = ROOT) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue  # Alembic's env and revisions: part of the store, loaded by Alembic itself
        text = path.read_text(encoding="utf-8")
        modules[_module_name(root, path)] = Module(_module_name(root, path), path, len(text.splitlines()))
    package = root.name
    for module in modules.values():
        tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
        for node in _import_nodes(tree):
            if isinstance(node, ast.Import):
                module.imports.update((alias.name, None) for alias in node.names)
            elif not node.level:
                module.imports.update((node.module or "", alias.name) for alias in node.names)
            for target in _targets(module.name, module.path.name == "__init__.py", node):
                if not target.startswith(package):
                    continue
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                # the module itself and the parent packages it needs to exist at all are not edges
                for parent in _with_parents(target):
                    if parent in modules and parent != module.name and not module.name.startswith(parent + "."):
                        module.internal.add(parent)
    return modules


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def cycles(modules: dict[str, Module]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(modules):
        if start in index:
            continue
        work = [(start, iter(sorted(modules[start].internal)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(modules[nxt].internal))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _inside(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def oversized(modules: dict[str, Module], limit: int = MAX_LINES) -> list[str]:
    return [f"{m.name}: {m.lines} lines (limit {limit})" for m in modules.values() if m.lines > limit]


# Building a database URL from connection fields is not talking to a database.
URL_HELPERS = {
    ("sqlalchemy", "URL"),
    ("sqlalchemy.engine", "URL"),
    ("sqlalchemy.engine", "make_url"),
    ("sqlalchemy.engine.url", "URL"),
    ("sqlalchemy.engine.url", "make_url"),
    ("sqlalchemy", "make_url"),
}


def foreign_imports(
    modules: dict[str, Module], libraries: tuple[str, ...], allowed: tuple[str, ...], harmless: set = frozenset()
) -> list[str]:
    out = []
    for m in modules.values():
        if any(_inside(m.name, prefix) for prefix in allowed):
            continue
        for source, name in sorted(m.imports, key=lambda item: (item[0], item[1] or "")):
            if source.split(".")[0] in libraries and (source, name) not in harmless:
                out.append(f"{m.name} imports {source}" + (f".{name}" if name else ""))
                break
    return out


def problems(root: Path = ROOT) -> list[str]:
    modules = load(root)
    package = root.name
    found = [f"import cycle: {' <-> '.join(c)}" for c in cycles(modules)]
    found += oversized(modules)
    found += foreign_imports(modules, ("airflow",), (f"{package}.airflow",))
    found += foreign_imports(
        modules,
        ("sqlalchemy", "alembic"),
        (f"{package}.store", *(r.replace(PACKAGE, package, 1) for r in SQL_SOURCE_READERS)),
        URL_HELPERS,
    )
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
