"""The layers of ``app/``, enforced on the source (an AST scan of every import).

Routes talk only to their dependencies, the shapes and the services; services own the queries
and the schemas and never reach back into the API; ``app/api`` never touches the database.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"

#: What a route module may import from this project: the API's own dependencies and routes,
#: and the services (which include the schemas); plus the app context and settings it is given
#: and the capped worker processes it hands untrusted work to.
ROUTE_MAY_IMPORT = ("app.api.deps", "app.api.filters", "app.api.routes", "app.services",
                    "app.context", "app.isolation", "app.security", "app.settings")


def imports(path: Path) -> list[str]:
    """Every module ``path`` imports (``from a.b import c`` counts as ``a.b`` and ``a.b.c``)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _modules(folder: str) -> list[Path]:
    return sorted((APP / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("api"), ids=lambda p: str(p.relative_to(APP)))
def test_the_api_never_touches_the_database(path: Path) -> None:
    bad = [m for m in imports(path) if _within(m, ("app.db", "sqlalchemy"))]
    assert not bad, f"{path.relative_to(APP)} imports {bad}: go through a service"


@pytest.mark.parametrize("path", _modules("services"), ids=lambda p: str(p.relative_to(APP)))
def test_services_never_import_the_api(path: Path) -> None:
    bad = [m for m in imports(path) if _within(m, ("app.api", "fastapi", "starlette"))]
    assert not bad, f"{path.relative_to(APP)} imports {bad}: services know nothing of HTTP"


@pytest.mark.parametrize("path", _modules("api/routes"), ids=lambda p: str(p.relative_to(APP)))
def test_routes_import_only_deps_schemas_and_services(path: Path) -> None:
    ours = [m for m in imports(path) if _within(m, ("app", "models"))]
    bad = [m for m in ours if not _within(m, ROUTE_MAY_IMPORT)]
    assert not bad, f"{path.relative_to(APP)} imports {bad}: ask a service"


def test_the_scan_sees_a_forbidden_import(tmp_path: Path) -> None:
    route = tmp_path / "route.py"
    route.write_text("from sqlalchemy import select\nimport app.db.models as m\n"
                     "from models.concepts import REGISTRY\n", encoding="utf-8")
    found = imports(route)
    assert _within("sqlalchemy.select", ("sqlalchemy",)) and "sqlalchemy" in found
    assert "app.db.models" in found and "models.concepts.REGISTRY" in found
    assert not _within("models.concepts", ROUTE_MAY_IMPORT)

