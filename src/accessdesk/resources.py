"""Where the migrations and templates are, both in an installed wheel and in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent.parent


def _locate(packaged: str, top_level: str) -> Path:
    # A wheel carries them inside the package (see force-include in pyproject.toml); an editable install or a
    # plain checkout has them at the top of the repository.
    inside = _PACKAGE / packaged
    if inside.is_dir():
        return inside
    return _CHECKOUT / top_level


def migrations_dir() -> Path:
    return _locate("_migrations", "migrations")


def templates_dir() -> Path:
    return _locate("_templates", "templates")
