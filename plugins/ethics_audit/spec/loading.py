"""Loading specs: YAML text to a validated ``AuditSpec``, every problem with its line number.

``load_spec`` reads one file; ``validate_paths`` checks a whole tree and reports every problem
as ``file: field.path: message (line N)``. YAML is imported only when a spec is parsed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ethics_audit.errors import SpecError, SpecProblem
from ethics_audit.spec.audit import AuditSpec
from ethics_audit.spec.rules import cross_field_problems


def json_schema() -> dict[str, Any]:
    return AuditSpec.model_json_schema(mode="validation")


def _safe_loader() -> Any:
    """libyaml's safe loader when PyYAML has it: ~8x faster, and the DAG processor parses every spec."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_lines(text: str) -> tuple[dict[tuple, int], list[tuple[tuple, int]]]:
    """Map each key path to its 1-based line, and list duplicate keys (YAML would drop one)."""
    import yaml

    lines: dict[tuple, int] = {}
    duplicates: list[tuple[tuple, int]] = []

    def walk(node: Any, path: tuple) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key, value in node.value:
                name = key.value
                if name in seen:
                    duplicates.append((path + (name,), key.start_mark.line + 1))
                seen.add(name)
                lines[path + (name,)] = key.start_mark.line + 1
                walk(value, path + (name,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    root = yaml.compose(text, Loader=_safe_loader())
    if root is not None:
        walk(root, ())
    return lines, duplicates


def _dotted(loc: tuple) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(("." if parts else "") + str(part))
    return "".join(parts)


def _line_of(loc: tuple, lines: dict[tuple, int]) -> int | None:
    """The line of the deepest part of ``loc`` that the YAML has (a missing key: its parent's)."""
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _problems_from(exc: ValidationError, file: str, lines: dict[tuple, int]) -> list[SpecProblem]:
    problems = []
    for error in exc.errors():
        # pydantic puts union/tagged branch names and validator names in loc: keep only real keys
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; `ethics-audit schema` lists the keys)"
        elif error["type"] == "missing":
            message = "required field is missing"
        problems.append(SpecProblem(file=file, field=_dotted(loc), message=message, line=_line_of(loc, lines)))
    unique = list(dict.fromkeys(problems))
    return unique


def parse_spec(text: str, file: str = "<spec>") -> AuditSpec:
    """Validate YAML text; raise ``SpecError`` listing every problem."""
    import yaml

    try:
        lines, duplicates = _yaml_lines(text)
        data = yaml.load(text, Loader=_safe_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecProblem(file, "", f"not valid YAML: {reason}", line)]) from None
    problems = [
        SpecProblem(file, _dotted(p), "duplicate key (YAML keeps only the last one)", ln) for p, ln in duplicates
    ]
    if not isinstance(data, dict):
        problems.append(
            SpecProblem(file, "", "an audit spec is a YAML mapping with id, model, window, source, columns")
        )
        raise SpecError(problems)
    try:
        spec = AuditSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(problems + _problems_from(exc, file, lines)) from None
    for field, message in cross_field_problems(spec):
        path = tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", field) if p)
        problems.append(SpecProblem(file, field, message, _line_of(path, lines)))
    if problems:
        raise SpecError(problems)
    return spec


def load_spec(path: str | Path) -> AuditSpec:
    """Read and validate one spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([SpecProblem(str(path), "", f"cannot read the file: {exc.strerror or exc}")]) from None
    spec = parse_spec(text, str(path))
    spec._path = path.resolve()
    return spec


def spec_files(paths: list[str | Path]) -> list[Path]:
    """Expand files and directories (recursively) into the sorted list of YAML specs."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        else:
            found.append(path)
    return found


def validate_paths(paths: list[str | Path]) -> tuple[list[AuditSpec], list[SpecProblem]]:
    """Validate every spec under ``paths``: the good specs, and every problem of the bad ones.

    Two files with the same ``id`` are a problem too: ids name DAGs and history.
    """
    specs: list[AuditSpec] = []
    problems: list[SpecProblem] = []
    ids: dict[str, Path] = {}
    files = spec_files(paths)
    if not files:
        problems.append(SpecProblem(", ".join(map(str, paths)), "", "no .yaml or .yml spec files found"))
    for file in files:
        try:
            spec = load_spec(file)
        except SpecError as exc:
            problems += exc.problems
            continue
        if spec.id in ids:
            problems.append(SpecProblem(str(file), "id", f"id {spec.id!r} is already used by {ids[spec.id]}"))
            continue
        ids[spec.id] = file
        specs.append(spec)
    return specs, problems
