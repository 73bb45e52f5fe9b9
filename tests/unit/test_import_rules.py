"""DESIGN.md's layering, enforced: each package may import only what sits below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vipfs"

# module prefix -> prefixes it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "vipfs.api": ("vipfs.vfs", "vipfs.fuse_ops", "vipfs.mount", "vipfs.emulator", "pyfuse3"),
    "vipfs.vfs": ("vipfs.fuse_ops", "vipfs.mount", "vipfs.emulator", "pyfuse3"),
    "vipfs.fuse_ops": ("vipfs.api", "vipfs.emulator"),
    "vipfs.emulator": ("vipfs.api", "vipfs.vfs", "vipfs.fuse_ops", "vipfs.mount", "pyfuse3"),
    # the option table and its readers work without FUSE (mount.vipfs, vipfs config check)
    "vipfs.mount_options": ("vipfs.mount", "vipfs.fuse_ops", "pyfuse3"),
    "vipfs.config": ("vipfs.mount", "vipfs.fuse_ops", "pyfuse3"),
    "vipfs.config_check": ("vipfs.mount", "vipfs.fuse_ops", "pyfuse3"),
    "vipfs.mount_helper": ("vipfs.mount", "vipfs.fuse_ops", "pyfuse3"),
    "vipfs.cli": ("vipfs.mount", "vipfs.fuse_ops", "pyfuse3", "vipfs.vfs", "vipfs.api"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    package = module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                found.add(f"{base}.{node.module}" if node.module else base)
            elif node.module:
                found.add(node.module)
    return found


def matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


SOURCES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_layering(path: Path) -> None:
    me = module_name(path)
    for layer, forbidden in FORBIDDEN.items():
        if not matches(me, layer):
            continue
        bad = sorted(name for name in imported_modules(path) for f in forbidden if matches(name, f))
        assert not bad, f"{me} may not import {bad} (see DESIGN.md, Architecture)"


def test_rules_see_relative_imports(tmp_path: Path) -> None:
    """The checker itself must catch a forbidden import written relatively."""
    probe = PACKAGE / "api" / "_probe_for_test.py"
    probe.write_text("from ..vfs import names\n")
    try:
        assert "vipfs.vfs" in imported_modules(probe)
    finally:
        probe.unlink()
