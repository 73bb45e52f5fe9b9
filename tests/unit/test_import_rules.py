"""DESIGN.md's layering, enforced: each package may import only what sits below it.

Besides the package layers, the core's own rules (issue 9): the facade `vipfs.vfs.filesystem` is
the top of the model (no vfs module imports it), the naming and folder rules (`namespace.py`) do
not lean on the upload queue, and `vipfs/cli.py` imports a command only when it runs it.
"""

from __future__ import annotations

import ast
import sys
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
    # commands that only talk to a running mount need neither the mount nor FUSE
    "vipfs.umount": ("vipfs.mount", "vipfs.fuse_ops", "pyfuse3"),
    "vipfs.status": ("vipfs.mount", "vipfs.fuse_ops", "pyfuse3"),
    "vipfs.links": ("vipfs.mount", "vipfs.fuse_ops", "pyfuse3", "vipfs.vfs", "vipfs.api"),
    "vipfs.runfiles": ("vipfs.mount", "vipfs.fuse_ops", "pyfuse3"),
    # the backfill codes to MirrorFs's few helpers (a Protocol), never to the mirror itself or
    # to the queue's internals; its command talks to the mount through an xattr and a file
    "vipfs.vfs.mirror_sync": ("vipfs.vfs.mirror", "vipfs.vfs.uploads"),
    "vipfs.mirrorcmd": ("vipfs.mount", "vipfs.fuse_ops", "pyfuse3", "vipfs.vfs", "vipfs.api"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_targets(node: ast.Import | ast.ImportFrom, package: str) -> set[str]:
    """What one import statement may load: `from a import b` counts as `a` and `a.b` (b may be a
    module), so `from vipfs.vfs import filesystem` is caught like `import vipfs.vfs.filesystem`."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:  # relative import: resolve against this module's package
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        base = f"{base}.{node.module}" if node.module else base
    elif node.module:
        base = node.module
    else:
        return set()
    return {base} | {f"{base}.{alias.name}" for alias in node.names if alias.name != "*"}


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (functions and TYPE_CHECKING blocks too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).rsplit(".", 1)[0]
    if path.name == "__init__.py":
        package = module_name(path)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            found |= import_targets(node, package)
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


def test_rules_see_from_package_imports() -> None:
    """`from vipfs.vfs import filesystem` imports the module as surely as its dotted form."""
    tree = ast.parse("from vipfs.vfs import filesystem, names as n\nfrom . import uploads\n")
    first, second = tree.body
    assert isinstance(first, ast.ImportFrom) and isinstance(second, ast.ImportFrom)
    assert import_targets(first, "vipfs.vfs") >= {"vipfs.vfs.filesystem", "vipfs.vfs.names"}
    assert "vipfs.vfs.uploads" in import_targets(second, "vipfs.vfs")


# -- the core's own rules (issue 9) --------------------------------------------------------------

VFS = PACKAGE / "vfs"
FACADE = "vipfs.vfs.filesystem"
# a mirror sits above the facade: each member is one whole single-host Filesystem
MIRROR = ("vipfs.vfs.mirror", "vipfs.vfs.mirror_ops", "vipfs.vfs.mirror_replay")


def modules_defining_class(name: str) -> list[str]:
    """The modules of vipfs/ that define a top-level class `name` (found by AST, not by path)."""
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), filename=str(path))
        if any(isinstance(n, ast.ClassDef) and n.name == name for n in tree.body):
            found.append(module_name(path))
    return found


def test_namespace_does_not_import_the_upload_queue() -> None:
    """Folder and file naming (`namespace.py`) sits below the write-back queue: the queue may
    use it, never the other way round, so its helpers cannot live in the queue's module."""
    owners = modules_defining_class("UploadQueue")
    assert len(owners) == 1, f"UploadQueue should be defined once, found in {owners}"
    queue = owners[0]
    imported = imported_modules(VFS / "namespace.py")
    assert not any(matches(name, queue) for name in imported), (
        f"vipfs.vfs.namespace imports {queue}, the module of UploadQueue"
    )


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if matches(module_name(p), "vipfs.vfs")],
    ids=lambda p: module_name(p),
)
def test_no_vfs_module_imports_the_facade(path: Path) -> None:
    """The facade is the top of the model: its parts never import it (not even for types), so
    they can be built and tested without it and it stays thin. Only the mirror, which
    composes several facades, stands above it."""
    if module_name(path) == FACADE or module_name(path) in MIRROR:
        return
    bad = sorted(n for n in imported_modules(path) if matches(n, FACADE))
    assert not bad, f"{module_name(path)} imports {bad}: parts of the model may not import it"


def top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that run when the module is imported: the module body and the
    branches of top-level if/try/with blocks, not function or class bodies."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        stmt = pending.pop(0)
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            found.append(stmt)
        elif isinstance(stmt, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                pending.extend(getattr(stmt, block, []))
            for handler in getattr(stmt, "handlers", []):
                pending.extend(handler.body)
    return found


def import_time_extras(tree: ast.Module) -> set[str]:
    """What a module imports at import time beyond the standard library and `vipfs` itself
    (a name of vipfs/__init__.py, like `__version__`, is not a module)."""
    extra: set[str] = set()
    for node in top_level_imports(tree):
        for target in import_targets(node, "vipfs"):
            top = target.split(".")[0]
            if top == "__future__" or top in sys.stdlib_module_names or target == "vipfs":
                continue
            from_init = isinstance(node, ast.ImportFrom) and node.module == "vipfs"
            name = target.removeprefix("vipfs.")
            if (
                from_init
                and not (PACKAGE / f"{name}.py").exists()
                and not (PACKAGE / name).is_dir()
            ):
                continue
            extra.add(target)
    return extra


def test_import_time_rule_sees_commands() -> None:
    source = (
        "import argparse\nfrom vipfs import __version__, mount\n"
        "try:\n    import pyfuse3\nexcept ImportError:\n    pass\n"
        "def later():\n    import vipfs.emulator.cli\n"
    )
    assert import_time_extras(ast.parse(source)) == {"vipfs.mount", "pyfuse3"}


def test_cli_imports_no_command_at_import_time() -> None:
    """`vipfs/cli.py` loads a command's module only when that command runs, so `vipfs emulator`
    works without pyfuse3: at import time it imports the standard library and `vipfs` itself."""
    path = PACKAGE / "cli.py"
    extra = import_time_extras(ast.parse(path.read_text(), filename=str(path)))
    assert not extra, f"vipfs/cli.py imports {sorted(extra)} at import time"
