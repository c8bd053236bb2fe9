"""What the code imports, read from its source (``ast``), never by importing it: the layer rules of ARCHITECTURE.md
are checked on this graph, so a rule breaks the moment someone writes the import, whether or not a test runs it.

An import is *late* when it sits inside a function, and *guarded* when it is late and inside a ``try`` whose handler
catches ``ImportError``: the one way the app may reach optional code (the training layer's test sets) and still run
without it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "scse_viz"
# Importing any scse_viz module runs the root package's __init__, which imports torch on purpose (the torchvision
# shim must run before any torchvision import) and exports the core API. Walking into it would make every module
# "import" torch and the whole core; the rules are about what each layer's own modules import.
ROOT_EXEMPT = PACKAGE


@dataclass(frozen=True)
class Import:
    """One module named by an import statement of ``source``."""

    source: str  # the importing module (dotted; "pages/1_Explore.py" style for files outside the package)
    target: str  # the imported module, dotted (a submodule where ``from X import y`` names one)
    line: int
    late: bool  # inside a function
    guarded: bool  # late and inside ``try: … except ImportError``


def module_name(path: Path, root: Path) -> str:
    """``scse_viz/views/base.py`` -> ``scse_viz.views.base``; files outside the package keep their path."""
    relative = path.relative_to(root)
    if relative.parts[0] != PACKAGE:
        return str(relative)
    parts = list(relative.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(root: Path) -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)


def imports_of_source(text: str, source: str, is_package: bool = False, known: Iterable[str] = ()) -> list[Import]:
    """Every import in ``text`` (the code of module ``source``), relative ones resolved, ``from X import y`` read
    as the submodule ``X.y`` where ``known`` holds it."""
    known = set(known)
    found: list[Import] = []

    def resolve(node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = source.split(".") if is_package else source.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def visit(node: ast.AST, late: bool, guarded: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(source, alias.name, node.lineno, late, guarded))
        elif isinstance(node, ast.ImportFrom):
            module = resolve(node)
            subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known]
            for target in subs or [module]:
                found.append(Import(source, target, node.lineno, late, guarded))
        inner_late = late or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        if isinstance(node, ast.Try):
            protects = any(_catches_import_error(h) for h in node.handlers if h.type is not None)
            for child in node.body:
                visit(child, inner_late, guarded or (protects and inner_late))
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(child, inner_late, guarded)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, inner_late, guarded)

    visit(ast.parse(text), False, False)
    return found


def imports_of(path: Path, root: Path, known: Iterable[str]) -> list[Import]:
    return imports_of_source(path.read_text(), module_name(path, root), path.name == "__init__.py", known)


def _with_parents(target: str) -> Iterator[str]:
    """The module and the packages above it that importing it runs (the root package is exempt, see above)."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name != ROOT_EXEMPT:
            yield name


class Graph:
    """The package's imports, to follow what a module reaches directly or through the package modules it imports."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules = package_modules(root)
        self._edges: dict[str, list[Import]] = {}

    def edges(self, source: str, path: Path | None = None) -> list[Import]:
        if source not in self._edges:
            path = path or self.modules[source]
            self._edges[source] = imports_of(path, self.root, self.modules)
        return self._edges[source]

    def reached(self, start: str, path: Path | None = None, follow_guarded: bool = False) -> dict[str, list[str]]:
        """Every module ``start`` imports, directly or through package modules, each with the chain that reaches
        it (``start -> a -> b``); guarded imports are left out unless ``follow_guarded``."""
        chains: dict[str, list[str]] = {}
        todo = [(start, path, [start])]
        seen = {start}
        while todo:
            source, source_path, chain = todo.pop()
            for edge in self.edges(source, source_path):
                if edge.guarded and not follow_guarded:
                    continue
                for target in _with_parents(edge.target):
                    if target in chains or target in seen:
                        continue
                    chains[target] = [*chain, f"{target} (line {edge.line} of {source})"]
                    if target in self.modules:
                        seen.add(target)
                        todo.append((target, None, chains[target]))
        return chains


def in_any(module: str, prefixes: Iterable[str]) -> bool:
    """``module`` is one of ``prefixes`` or inside one of them (``scse_viz.train.parts`` is in ``scse_viz.train``)."""
    return any(module == p or module.startswith(p + ".") for p in prefixes)
