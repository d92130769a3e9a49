"""The package reads as the data flows: no module imports one of a later stage, no import circle,
the core never imports discord, and the product never imports the measuring tools or the reader's
training (nor torch or transformers, which only the training imports); the tools beside it,
`benchmarks/` and `training/`, import the product and not each other."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Stages, bottom up: a module may import its own stage and those below it.
STAGES = (
    ("bot.text", "bot.config", "bot.exit_codes"),
    ("bot.documents",),
    ("bot.search",),
    ("bot.answer",),
    ("bot.engine", "bot.cache", "bot.evaluate", "bot.stores"),
    ("bot.discord_bot",),
    ("bot.cli", "bot.__main__"),
)
# Within `bot.search`, the ranker reads as learning-to-rank code does, bottom up: the indexes and
# the stages it calls on; the question; the feature table of its candidates; the one function that
# combines the features (and the Ranker that runs the three).
SEARCH_ROOMS = (
    (
        "bot.search.retriever",
        "bot.search.groups",
        "bot.search.documents",
        "bot.search.semantic",
        "bot.search.reader",
    ),
    ("bot.search.question",),
    ("bot.search.features",),
    ("bot.search.ranking",),
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# The packages of ours, and those of others whose place the rules below say.
WATCHED = {"bot", "benchmarks", "training", "discord", "torch", "transformers"}
TRAINING_STACK = {"training", "torch", "transformers"}  # the reader's training: never the product's


def _imports(package: str = "bot") -> dict[str, set[str]]:
    """Every module of `package` and the modules of `WATCHED` it imports (type-only and lazy too)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        name = _module_name(path)
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    targets.add(f"{node.module}.{alias.name}")
                targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        found[name] = {t for t in targets if t.split(".")[0] in WATCHED}
    return found


def _stage(module: str, stages: tuple[tuple[str, ...], ...] = STAGES) -> int | None:
    for n, prefixes in enumerate(stages):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return n
    return None


def _known(target: str, modules: set[str]) -> str | None:
    """The module of ours an import names (`bot.answer.render` from `from bot.answer import render`)."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def test_every_module_has_a_stage() -> None:
    unplaced = [m for m in _imports() if m != "bot" and _stage(m) is None]
    assert not unplaced, f"modules in no stage of STAGES: {unplaced}"


def test_no_import_runs_back_down_the_stages() -> None:
    imports = _imports()
    modules = set(imports)
    backwards = []
    for module, targets in imports.items():
        for target in targets:
            known = _known(target, modules)
            if known in (None, "bot") or known == module:
                continue
            assert known is not None
            if (_stage(known) or 0) > (_stage(module) or 0):
                backwards.append(f"{module} imports {known}")
    assert not backwards, backwards


def test_the_ranker_reads_question_then_features_then_their_combination() -> None:
    imports = _imports()
    modules = set(imports)
    search = [m for m in modules if m.startswith("bot.search.")]
    assert not [m for m in search if _stage(m, SEARCH_ROOMS) is None], "a bot.search module in no room"
    backwards = {
        f"{module} imports {known}"
        for module in search
        for target in imports[module]
        if (known := _known(target, modules)) in search
        and (_stage(known, SEARCH_ROOMS) or 0) > (_stage(module, SEARCH_ROOMS) or 0)
    }
    assert not backwards, sorted(backwards)


@pytest.mark.parametrize("package", ["bot", "training"])
def test_no_import_circle(package: str) -> None:
    imports = _imports(package)
    modules = set(imports)
    graph = {
        m: {k for t in ts if (k := _known(t, modules)) not in (None, package, m)} for m, ts in imports.items()
    }
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                pytest.fail("import circle: " + " -> ".join([*path[path.index(n) :], n]))
            if n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_only_the_discord_skin_imports_discord_and_nothing_imports_the_tools() -> None:
    for module, targets in _imports().items():
        if any(t == "discord" or t.startswith("discord.") for t in targets):
            assert module.startswith("bot.discord_bot"), f"{module} imports discord"
        assert not [t for t in targets if t.startswith("benchmarks")], f"{module} imports the benchmarks"
        # The reader's training stack (torch, transformers, the training package) is a tool's, never
        # the product's: the bot runs its model through onnxruntime.
        assert not [t for t in targets if t.split(".")[0] in TRAINING_STACK], f"{module} imports {targets}"


@pytest.mark.parametrize(("tool", "other"), [("benchmarks", "training"), ("training", "benchmarks")])
def test_a_tool_imports_the_product_and_not_the_other_tool(tool: str, other: str) -> None:
    # Each runs with its own extra beside the product's: the benchmarks without torch, the
    # training without the benchmarks' bm25s, wordfreq and PostgreSQL.
    imports = _imports(tool)
    assert imports, f"no module found in {tool}/"
    crossing = [f"{m} imports {t}" for m, ts in imports.items() for t in ts if t.split(".")[0] == other]
    assert not crossing, crossing
    assert any(t.split(".")[0] == "bot" for ts in imports.values() for t in ts), f"{tool} uses no bot module?"


def test_only_the_training_imports_torch_and_transformers() -> None:
    # The benchmarks measure the shipped ONNX model, as the bot runs it.
    imports = {**_imports("bot"), **_imports("benchmarks"), **_imports("training")}
    stack = {"torch", "transformers"}
    outside = [m for m, ts in imports.items() if any(t.split(".")[0] in stack for t in ts)]
    assert not [m for m in outside if not m.startswith("training")], outside
    assert outside, "training imports neither torch nor transformers: the rule above checks nothing"


def test_a_parsing_worker_loads_only_the_reading_of_a_file() -> None:
    # The pool's workers are spawned fresh and import `bot.documents.parsing` (see its docstring):
    # what that module pulls in is each worker's start-up, paid before it parses a byte. The
    # corpus, its folder, the search and the settings (pydantic) are the parent's, never a worker's.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bot.documents.parsing; print(*sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'bot', 'pydantic', 'trafilatura', 'discord', 'onnxruntime'}))",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.split()
    reading = {"parsing", "parse", "document", "article", "markdown", "segment", "frontmatter", "describe"}
    allowed = {"bot", "bot.text", "bot.documents", *(f"bot.documents.{m}" for m in reading)}
    assert "bot.documents.parse" in loaded
    assert set(loaded) <= allowed, sorted(set(loaded) - allowed)


def test_bot_bench_says_where_the_benchmarks_went() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "bench", "--sizes", "1000"],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "python -m benchmarks.bench" in done.stderr


def test_exit_codes_are_defined_once() -> None:
    defined = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            defined += [f"{_module_name(path)}.{n}" for n in names if n.startswith("EXIT_")]
    assert defined and {name.rpartition(".")[0] for name in defined} == {"bot.exit_codes"}, defined


def _named(tree: ast.AST) -> set[str]:
    """The names a module uses: plain names, attributes and what it imports."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.name for alias in node.names)
    return names


def test_the_package_holds_no_helper_only_the_tests_use() -> None:
    # What only tests call belongs in tests/; the tools beside the package may use its API.
    trees = {
        p: ast.parse(p.read_text(encoding="utf-8"))
        for d in ("bot", "benchmarks", "training")
        for p in (ROOT / d).rglob("*.py")
    }
    used = set().union(*map(_named, trees.values()))
    unused = [
        f"{_module_name(path)}.{node.name}"
        for path, tree in trees.items()
        if path.is_relative_to(ROOT / "bot")
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and not node.name.startswith("_")
        and node.name not in used
    ]
    assert not unused, f"used by nothing in bot/, benchmarks/ or training/ (only by tests?): {unused}"
