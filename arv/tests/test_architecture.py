"""The house rules of docs/architecture.md as tests: who may import whom.

Every production module's imports are read with `ast` (nothing is imported), and the tests fail on
an import cycle between files, an import from the ground floor into an app, an arrow between
folders that points up the floors, and project imports hidden inside functions beyond the few
that say why they must stay. `python -m arv.tests.test_architecture` prints the figures.
"""

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The floors, lowest first: a folder may import its own floor's neighbours only where listed in
# SIDEWAYS, and any lower floor. `arv` is the shell on top (settings, urls, admin site, commands
# that span the apps).
FLOORS = {
    "lib": 0,
    "companies": 1,
    "content": 2,
    "markers": 3,
    "photos": 4,
    "webhooks": 5,
    "viewer": 6,
    "analytics": 7,
    "arv": 8,
}
# Arrows between folders of one floor that are allowed (none today).
SIDEWAYS: set[tuple[str, str]] = set()
GROUND = "lib"
# What is not production code: tests, test helpers, migrations (they import whatever field they
# were written with, frozen in time).
SKIP_PARTS = {"tests", "testing", "migrations", "__pycache__"}
# Function-level imports of project modules that must stay, at most this many, each with a
# comment on the line above or at the end of the line saying why.
MAX_FUNCTION_IMPORTS = 5

# None left (issue 19 emptied them): a new cycle, upward arrow or ground-floor import fails.
KNOWN_CYCLES: list[list[str]] = []
KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_GROUND_INTO_APPS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported project module, dotted
    line: int
    in_function: bool
    commented: bool


@dataclass
class Graph:
    modules: dict[str, Path] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)

    def folder_arrows(self) -> set[tuple[str, str]]:
        return {(folder(i.source), folder(i.target)) for i in self.imports if folder(i.source) != folder(i.target)}

    def upward_arrows(self) -> set[tuple[str, str]]:
        return {
            (a, b)
            for a, b in self.folder_arrows()
            if FLOORS.get(a, 0) < FLOORS.get(b, 0) or (FLOORS.get(a) == FLOORS.get(b) and (a, b) not in SIDEWAYS)
        }

    def function_imports(self) -> list[Import]:
        return [i for i in self.imports if i.in_function]

    def cycles(self) -> list[list[str]]:
        """The strongly connected components of more than one file (imports anywhere in a module,
        functions included: a function-level import hides a cycle, it does not remove it)."""
        edges = defaultdict(set)
        for i in self.imports:
            if i.source != i.target:
                edges[i.source].add(i.target)
        return [sorted(c) for c in strongly_connected(self.modules, edges) if len(c) > 1]


def folder(module: str) -> str:
    return module.split(".", 1)[0]


def project_packages() -> list[str]:
    return sorted(name for name in FLOORS if (ROOT / name / "__init__.py").exists())


def production_files():
    for package in project_packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if SKIP_PARTS.intersection(relative.parts[:-1]) or relative.name.startswith("test_"):
                continue
            yield relative


def module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def build_graph() -> Graph:
    graph = Graph()
    parsed = {}
    for relative in production_files():
        name = module_name(relative)
        graph.modules[name] = relative
        parsed[name] = (relative, ast.parse((ROOT / relative).read_text(), str(relative)))
    packages = set(project_packages())

    def known(target: str) -> str | None:
        """The project module *target* names (or its nearest enclosing package)."""
        while target:
            if target in graph.modules:
                return target
            target = target.rpartition(".")[0]
        return None

    for name, (relative, tree) in parsed.items():
        lines = (ROOT / relative).read_text().splitlines()
        is_package = relative.name == "__init__.py"
        for node, in_function, type_only in walk(tree):
            if type_only:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = resolve(node, name, is_package)
                # `from package import module` imports the submodule when there is one.
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in graph.modules else base for alias in node.names
                ]
            seen = set()
            for target in targets:
                resolved = known(target) if folder(target) in packages else None
                if resolved is None or resolved in seen:
                    continue
                seen.add(resolved)
                above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
                commented = "#" in lines[node.lineno - 1] or above.startswith("#")
                graph.imports.append(Import(name, resolved, node.lineno, in_function, commented))
    return graph


def walk(tree: ast.Module):
    """Yields (import node, inside a function?, under `if TYPE_CHECKING`?)."""

    def visit(node, in_function, type_only):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, in_function, type_only
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from visit(child, True, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                yield from visit(child, in_function, True)
            else:
                yield from visit(child, in_function, type_only)

    yield from visit(tree, False, False)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def strongly_connected(nodes, edges):
    """Tarjan's algorithm, iterative (the graph has a few hundred nodes)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
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
                    result.append(component)
    return result


def figures(graph: Graph) -> str:
    arrows = graph.folder_arrows()
    upward = graph.upward_arrows()
    function_imports = graph.function_imports()
    lines = [
        f"production modules: {len(graph.modules)}; imports of project modules: {len(graph.imports)}",
        f"arrows between folders: {len(arrows)}, pointing up: {len(upward)}",
        *(f"  up: {a} -> {b}" for a, b in sorted(upward)),
        f"import cycles between files: {len(graph.cycles())}",
        *(f"  cycle: {' <-> '.join(c)}" for c in graph.cycles()),
        f"function-level imports of project modules: {len(function_imports)} "
        f"(with a why-comment: {sum(i.commented for i in function_imports)})",
        *(f"  {graph.modules[i.source]}:{i.line} -> {i.target}" for i in function_imports),
    ]
    return "\n".join(lines)


# --- the tests -------------------------------------------------------------------------------------

GRAPH = build_graph()


def test_the_figures_are_printed(capsys):
    with capsys.disabled():
        print("\n" + figures(GRAPH))
    assert GRAPH.modules and GRAPH.imports


def test_no_import_cycle_between_files():
    assert sorted(GRAPH.cycles()) == sorted(KNOWN_CYCLES)


def test_the_ground_floor_imports_no_app():
    into_apps = {
        (i.source, i.target) for i in GRAPH.imports if folder(i.source) == GROUND and folder(i.target) != GROUND
    }
    assert into_apps == KNOWN_GROUND_INTO_APPS


def test_arrows_between_folders_point_down():
    assert GRAPH.upward_arrows() == KNOWN_UPWARD


def test_every_folder_has_a_floor():
    top_level = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"bench"}
    assert top_level <= set(FLOORS), f"give {sorted(top_level - set(FLOORS))} a floor in FLOORS"


def test_few_project_imports_hide_in_functions_and_each_says_why():
    function_imports = GRAPH.function_imports()
    assert len(function_imports) <= MAX_FUNCTION_IMPORTS
    uncommented = [f"{GRAPH.modules[i.source]}:{i.line}" for i in function_imports if not i.commented]
    assert not uncommented, "say why this import must stay inside the function"


def test_the_reader_sees_function_level_and_type_only_imports(tmp_path):
    source = (
        "from typing import TYPE_CHECKING\n"
        "import companies.models\n"
        "if TYPE_CHECKING:\n"
        "    from content.models import Portrait\n"
        "def f():\n"
        "    # why: a cycle\n"
        "    from markers import services\n"
    )
    found = [(node.lineno, in_function, type_only) for node, in_function, type_only in walk(ast.parse(source))]
    assert found == [(1, False, False), (2, False, False), (4, False, True), (7, True, False)]


def test_cycles_are_found():
    edges = defaultdict(set, {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})
    components = [sorted(c) for c in strongly_connected(["a", "b", "c", "d"], edges) if len(c) > 1]
    assert components == [["a", "b", "c"]]


if __name__ == "__main__":
    print(figures(GRAPH))
    sys.exit(0)
