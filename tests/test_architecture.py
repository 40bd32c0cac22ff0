"""The package's structure, drawn from its own imports: layers that import downwards only,
no cycle, no automl import hidden inside a function, every module importable alone."""

import ast
import os
import subprocess
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "automl")

# Lowest first: a module may import from its own layer and the layers before it.
LAYERS = (
    ("automl.errors", "automl.options", "automl.runtime", "automl.adapters"),
    ("automl.run_folder",),
    ("automl.cost", "automl.capabilities"),
    ("automl.problems",),
    ("automl.data",),
    ("automl.task", "automl.registry"),
    ("automl.transfer",),
    ("automl.settings",),
    ("automl.report",),
    ("automl.export",),
    ("automl.tuning",),
    ("automl.distribute",),
    ("automl.pipeline",),
    ("automl", "automl.__main__", "automl.api", "automl.estimators", "automl.cli",
     "automl.scaffold", "automl.server"),
)


def modules():
    """`{dotted name: path}` of every module of the package."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(folder, file)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[name.removesuffix(".__init__")] = path
    return found


def layer_of(module):
    """The index in `LAYERS` of the longest prefix naming `module`."""
    best = None
    for index, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                if best is None or len(name) > best[1]:
                    best = (index, len(name))
    assert best is not None, f"{module} is in no layer of tests/test_architecture.py"
    return best[0]


def _imports(name, path, known):
    """`(target module, line, inside a function)` of each automl import of a module;
    `env.lazy_module("automl...")` counts as an import at the top."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    in_function = {id(node) for function in ast.walk(tree)
                   if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                   for node in ast.walk(function) if node is not function}
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "lazy_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            targets = [node.args[0].value]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target, node.lineno, id(node) in in_function


def graph():
    known = modules()
    return {name: list(_imports(name, path, known)) for name, path in known.items()}


def test_imports_point_down_the_layers():
    upward = [f"{module}:{line} imports {target}"
              for module, imports in graph().items() for target, line, _ in imports
              if layer_of(target) > layer_of(module)]
    assert not upward, "imports up the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycle():
    edges = {module: {target for target, _, _ in imports} for module, imports in graph().items()}
    state, cycles = {}, []

    def visit(module, path):
        state[module] = "open"
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_automl_import_inside_a_function():
    inner = [f"{module}:{line} imports {target}"
             for module, imports in graph().items() for target, line, hidden in imports if hidden]
    assert not inner, ("automl imports inside functions (import at the top, or load a "
                       "TensorFlow-heavy module with runtime.env.lazy_module):\n"
                       + "\n".join(sorted(inner)))


def test_every_module_imports_on_its_own():
    """Each module imported first, in a fresh set of automl modules (third-party
    libraries stay loaded, so the check takes seconds)."""
    names = sorted(name for name in modules() if name != "automl.__main__")  # runs the CLI
    script = (
        "import importlib, sys\n"
        "failed = []\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'automl' or m.startswith('automl.')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as error:\n"
        "        failed.append(f'{name}: {type(error).__name__}: {error}')\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n")
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             cwd=ROOT, timeout=600)
    assert process.returncode == 0, process.stdout + process.stderr[-2000:]


def test_the_distribution_lists_every_subpackage():
    pyproject = open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8").read()
    listed = set(re.findall(r'"([\w.]+)"', re.search(r"^packages = \[(.*?)\]", pyproject,
                                                       re.M | re.S).group(1)))
    packages = {name for name, path in modules().items() if path.endswith("__init__.py")}
    assert packages <= listed, f"not in pyproject.toml's packages: {sorted(packages - listed)}"

