"""The write path's layering, read from the source (issue 9, item 2).

* The parts below the queue (namespace, file/edit policy, metadata, scheduler, job, strays,
  status) never import the module that defines `UploadQueue` (the dependency that used to run
  backwards).
* The scheduler is generic: it imports nothing from vipfs.

The one-writer rule of the `files` table lives in tests/unit/test_layout_rules.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VFS = Path(__file__).resolve().parents[3] / "vipfs" / "vfs"
SOURCES = sorted(VFS.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _queue_module() -> str:
    (path,) = [p for p in SOURCES if "class UploadQueue" in p.read_text()]
    return "vipfs.vfs." + path.stem


@pytest.mark.parametrize(
    "name",
    [
        "namespace",
        "edits",
        "metadata",
        "scheduler",
        "upload_job",
        "upload_node",
        "adoption",
        "strays",
        "upload_status",
    ],
)
def test_the_write_path_below_the_queue_does_not_import_it(name: str) -> None:
    queue = _queue_module()
    imported = _imports(VFS / f"{name}.py")
    assert queue not in imported, f"{name}.py imports {queue}"


def test_the_scheduler_knows_nothing_of_uploads() -> None:
    assert {m for m in _imports(VFS / "scheduler.py") if m.startswith("vipfs")} == set()
