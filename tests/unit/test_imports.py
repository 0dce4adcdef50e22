"""Every module of ccci imports, and every layer imports only the layers below it.

Cheap, and it catches what a merge of two changes can break without either
side's tests noticing: a name renamed in one module and still imported by a
new one in another.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import ccci

ROOT = Path(ccci.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages([str(ROOT)], "ccci.") if ".generic." not in m.name)
# Written by hand: who may import whom (DESIGN.md, "Imports point one way, downwards").
ALLOWED = {
    "pure": {"pure"},
    "seams": {"pure", "seams"},
    "capabilities": {"pure", "seams", "capabilities"},
    "jobs": {"pure", "seams", "capabilities", "jobs"},
    "entry": {"pure", "seams", "capabilities", "jobs", "entry"},
}


@pytest.mark.parametrize("name", MODULES)
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in ALLOWED else None


@pytest.mark.parametrize("name", [m for m in MODULES if _layer(m)])
def test_imports_point_downwards(name: str) -> None:
    layer = _layer(name)
    path = ROOT.joinpath(*name.split(".")[1:])
    source = (path / "__init__.py") if path.is_dir() else path.with_suffix(".py")
    imported = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ccci."):
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names if a.name.startswith("ccci.")}
    wrong = sorted(m for m in imported if _layer(m + ".x") not in ALLOWED[layer])
    assert not wrong, f"{name} ({layer}) imports {wrong}"
