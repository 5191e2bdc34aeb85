"""The shape of the code a newcomer relies on: layers point down (flows -> tasks -> blocks, reports), no import
cycles, the stand-ins for the outside world stay out of the product, and no module grows past 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("flows", "tasks", "blocks", "reports", "sandbox")
MAY_IMPORT = {  # each layer, and the layers below it it may use
    "flows": {"flows", "tasks", "blocks", "reports"},
    "tasks": {"tasks", "blocks", "reports"},
    "blocks": {"blocks"},
    "reports": {"reports"},
    "sandbox": {"sandbox"},
}
DEMO = ("flows/cli.py", "flows/demo.py")  # the CLI and its demo: the one place the product starts the sandbox
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path, module: str) -> set[str]:
    """Every arpilot module ``path`` imports, at the top or inside a function."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {n for n in names if n.split(".")[0] in PACKAGES}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: {n for n in _imports(path, m) if n in modules and n != m} for m, path in modules.items()}


def test_layers_only_point_down():
    upward = []
    for module, path in _modules().items():
        layer = module.split(".")[0]
        for name in _imports(path, module):
            target = name.split(".")[0]
            if target not in MAY_IMPORT[layer] and not (target == "sandbox" and str(path.relative_to(ROOT)) in DEMO):
                upward.append(f"{module} imports {name}")
    assert upward == []


def test_the_sandbox_serves_only_the_demo_tests_and_benches():
    users = {m for m, path in _modules().items() if not m.startswith("sandbox")
             for name in _imports(path, m) if name.startswith("sandbox")}
    assert users <= {"flows.cli", "flows.demo"}


def test_no_import_cycles():
    graph = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(m: str) -> None:  # Tarjan's strongly connected components
        index[m] = low[m] = len(index)
        stack.append(m)
        on_stack.add(m)
        for n in graph[m]:
            if n not in index:
                visit(n)
                low[m] = min(low[m], low[n])
            elif n in on_stack:
                low[m] = min(low[m], index[n])
        if low[m] == index[m]:
            component = []
            while True:
                n = stack.pop()
                on_stack.discard(n)
                component.append(n)
                if n == m:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == []


def test_no_module_over_400_lines():
    modules = sorted(ROOT.glob("*/**/*.py"))
    too_long = {str(p.relative_to(ROOT)): n for p in modules if ".venv" not in p.parts and p.parts[len(ROOT.parts)] in
                PACKAGES + ("bench",) and (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert too_long == {}


def test_no_flow_script_hides_a_package():
    """A worker loads a deployment's flow script with the script's own folder first on sys.path: a flows/<name>.py
    named like one of arpilot's packages would be imported in its place, and every deployed run would crash."""
    assert not [p.name for p in (ROOT / "flows").glob("*.py") if p.stem in PACKAGES]
