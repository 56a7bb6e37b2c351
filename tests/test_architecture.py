"""The house's load-bearing walls, checked on the source: the core never imports the Slack bot except at its
composition root, and the bot never imports what composes it; and no test imports a conftest or another test
module. (Imports inside functions count: a lazy import is still a dependency.)"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "src" / "accessdesk"
BOT = ROOT / "bots" / "accessdesk" / "slackbot"
COMPOSITION_ROOT = CORE / "compose.py"
TESTS = ROOT / "tests"


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


def test_the_core_imports_the_bot_only_at_its_composition_root():
    offenders = {str(path.relative_to(ROOT)): sorted(n for n in imported(path) if _within(n, "accessdesk.slackbot"))
                 for path in CORE.rglob("*.py") if path != COMPOSITION_ROOT}  # fmt: skip
    assert not {path: names for path, names in offenders.items() if names}
    assert any(_within(n, "accessdesk.slackbot") for n in imported(COMPOSITION_ROOT))


def test_the_bot_never_imports_what_composes_it():
    composing = ("accessdesk.app", "accessdesk.cli", "accessdesk.compose")
    offenders = {str(path.relative_to(ROOT)): sorted(n for n in imported(path) if any(_within(n, c) for c in composing))
                 for path in BOT.rglob("*.py")}  # fmt: skip
    assert not {path: names for path, names in offenders.items() if names}


def test_nothing_imports_a_top_level_bots_package():
    for folder in ("src", "bots", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            assert not any(_within(n, "bots") for n in imported(path)), path
    assert not (ROOT / "bots" / "__init__.py").exists() and not (ROOT / "bots" / "accessdesk" / "__init__.py").exists()


def test_the_domain_imports_the_standard_library_sqlalchemy_and_sqlmodel_only():
    """The rules depend on no framework: no web, Slack, OAuth or cryptographic library (``accessdesk.crypto`` holds
    the cryptography they need behind plain functions)."""
    allowed_core = ("accessdesk.domain", "accessdesk.db", "accessdesk.clock", "accessdesk.crypto")
    offenders: dict[str, list[str]] = {}
    for path in (CORE / "domain").rglob("*.py"):
        wrong = [name for name in imported(path)
                 if not (name.split(".")[0] in sys.stdlib_module_names or name.split(".")[0] in ("sqlalchemy", "sqlmodel")
                         or any(_within(name, c) for c in allowed_core))]  # fmt: skip
        if wrong:
            offenders[str(path.relative_to(ROOT))] = sorted(wrong)
    assert not offenders


def test_no_test_imports_a_conftest_or_another_test_module():
    """Helpers the tests share live in ``tests/support`` (and ``tests/world.py``, ``tests/databases.py``); fixtures
    that more than one folder uses reach every test through the plugins ``tests/conftest.py`` names. A conftest
    or a test module imported for its helpers drags its fixtures along and hides where they come from."""

    def test_or_conftest(name: str) -> bool:
        return _within(name, "tests") and any(part == "conftest" or part.startswith("test_")
                                              for part in name.split("."))  # fmt: skip

    offenders = {str(path.relative_to(ROOT)): sorted(n for n in imported(path) if test_or_conftest(n))
                 for path in TESTS.rglob("*.py")}  # fmt: skip
    assert not {path: names for path, names in offenders.items() if names}
