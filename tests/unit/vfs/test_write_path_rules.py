"""The write path's ownership rules, read from the source (issue 9, items 2 and 3).

* Only `vfs/metadata.py` calls the MetaDb methods that write the `files` table.
* The namespace and the file/edit policy never import the module that defines `UploadQueue`
  (the dependency that used to run backwards).
* The queue's parts below it (scheduler, job, strays, status) do not import the queue either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VFS = Path(__file__).resolve().parents[3] / "vipfs" / "vfs"
FILES_WRITERS = {"put_file", "update_file", "delete_file", "finish_upload"}
SOURCES = sorted(VFS.rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _calls(path: Path) -> set[str]:
    """Names of the methods `path` calls as `<something>.<name>(...)`."""
    return {
        node.func.attr
        for node in ast.walk(_tree(path))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


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


def test_metadb_still_has_the_writers_this_rule_names() -> None:
    """A renamed writer must not slip past the rule."""
    defined = {
        node.name
        for node in ast.walk(_tree(VFS / "metadb.py"))
        if isinstance(node, ast.AsyncFunctionDef)
    }
    assert defined >= FILES_WRITERS


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_only_metadata_writes_the_files_table(path: Path) -> None:
    if path.name in ("metadb.py", "metadata.py"):
        return
    assert not _calls(path) & FILES_WRITERS, f"{path.name} writes `files` behind Metadata"


@pytest.mark.parametrize(
    "name", ["namespace", "edits", "metadata", "scheduler", "upload_job", "strays", "upload_status"]
)
def test_the_write_path_below_the_queue_does_not_import_it(name: str) -> None:
    queue = _queue_module()
    imported = _imports(VFS / f"{name}.py")
    assert queue not in imported, f"{name}.py imports {queue}"


def test_the_scheduler_knows_nothing_of_uploads() -> None:
    assert {m for m in _imports(VFS / "scheduler.py") if m.startswith("vipfs")} == set()
