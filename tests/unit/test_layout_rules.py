"""Who may do what in vipfs/, enforced by walking the source (issue 9, "one place for each rule").

- Only the metadata owner (vipfs/vfs/metadata.py) writes the `files` and `folders` tables: the
  MetaDb methods that write them are found in metadb.py by what their SQL does, so a new writing
  method is covered the day it is added, and no other module may call (or pass along) any of
  them. Where the owner offers a method of the same name (`Metadata.finish_upload`), a call
  counts when its receiver is a name that holds a MetaDb (found from `MetaDb` annotations and the
  assignments they flow to).
- Only vipfs/vfs/names.py escapes or unescapes titles: nothing else imports `html`'s escape or
  unescape. The emulator is the host, which mangles titles on purpose, so it is exempt.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.unit.test_import_rules import PACKAGE, SOURCES, module_name

METADB = PACKAGE / "vfs" / "metadb.py"
METADATA_OWNER = PACKAGE / "vfs" / "metadata.py"
NAMES = PACKAGE / "vfs" / "names.py"
EMULATOR = PACKAGE / "emulator"
# escapes text into an HTML page it writes (`vipfs links --format html`): output markup, not a
# title<->name rule, and it reads only names the mount already made
MARKUP = PACKAGE / "links.py"

_WRITE = r"(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)"
METADATA_TABLES = ("files", "folders")  # per-node metadata: metadata.py is their one writer
WRITES_ANY_TABLE = re.compile(_WRITE + r"\s+\{\}", re.IGNORECASE)  # f"UPDATE {table} ..."


def sql_texts(node: ast.AST) -> list[str]:
    """The string literals in `node`, f-strings with each {field} as `{}`."""
    texts = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            texts.append(sub.value)
        elif isinstance(sub, ast.JoinedStr):
            texts.append(
                "".join(
                    v.value if isinstance(v, ast.Constant) else "{}"
                    for v in sub.values
                    if isinstance(v, ast.Constant | ast.FormattedValue)
                )
            )
    return texts


def self_refs(node: ast.AST) -> set[str]:
    """Names of `self.<name>` a method uses: calls, and methods handed on (`self._run(self._x)`)."""
    return {
        sub.attr
        for sub in ast.walk(node)
        if isinstance(sub, ast.Attribute)
        and isinstance(sub.value, ast.Name)
        and sub.value.id == "self"
    }


def files_writers(source: str, table: str = "files") -> set[str]:
    """The public methods of the classes in `source` that write `table`.

    A method writes it when its SQL does (`INSERT ... INTO files`, `UPDATE files`, ...), when it
    hands the table name ("files") to a method whose SQL takes its table as a field (`UPDATE
    {table}`), or when a method it uses does either."""
    writes_table = re.compile(_WRITE + rf"\s+{table}\b", re.IGNORECASE)
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for cls in ast.parse(source).body:
        if isinstance(cls, ast.ClassDef):
            for item in cls.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    methods[item.name] = item
    refs = {name: self_refs(fn) & set(methods) for name, fn in methods.items()}
    texts = {name: sql_texts(fn) for name, fn in methods.items()}

    def closure(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for ref in refs[todo.pop()] - seen:
                seen.add(ref)
                todo.append(ref)
        return seen

    def writes(name: str) -> bool:
        reach = closure(name)
        if any(writes_table.search(t) for m in reach for t in texts[m]):
            return True
        names_table = table in texts[name]
        return names_table and any(WRITES_ANY_TABLE.search(t) for m in reach for t in texts[m])

    return {name for name in methods if not name.startswith("_") and writes(name)}


def test_the_writer_finder_follows_sql_helpers_and_table_parameters() -> None:
    source = """
class Db:
    def _put_sql(self, row):
        self._conn.execute("INSERT OR REPLACE INTO files (code) VALUES (?)", (row,))
    def _put(self, row):
        with self._conn:
            self._put_sql(row)
    async def put(self, row):
        await self._run(self._put, row)
    def _update(self, table, key, ident, changes):
        self._conn.execute(f"UPDATE {table} SET x = ? WHERE {key} = ?", (changes, ident))
    async def change_file(self, code):
        return await self._run(self._update, "files", "code", code, {})
    async def change_upload(self, ident):
        return await self._run(self._update, "uploads", "id", ident, {})
    def _finish(self, ident, row):
        self._conn.execute("UPDATE uploads SET state = 'done' WHERE id = ?", (ident,))
        self._put_sql(row)
    async def finish(self, ident, row):
        await self._run(self._finish, ident, row)
    async def read(self, code):
        return self._conn.execute("SELECT * FROM files WHERE code = ?", (code,))
    async def strays(self):
        self._conn.execute("DELETE FROM strays_files WHERE 1")
"""
    assert files_writers(source) == {"put", "change_file", "finish"}


WRITERS_BY_TABLE = {table: files_writers(METADB.read_text(), table) for table in METADATA_TABLES}
FILES_WRITERS = set().union(*WRITERS_BY_TABLE.values())


@pytest.mark.parametrize("table", METADATA_TABLES)
def test_metadb_has_writers_of_each_metadata_table(table: str) -> None:
    """The rule below is only as good as this list: an empty one would pass anything."""
    assert WRITERS_BY_TABLE[table], f"no MetaDb method writes {table}? the finder is broken"


def test_the_writer_finder_tells_tables_apart() -> None:
    source = """
class Db:
    def _delete(self, table, key, ident):
        self._conn.execute(f"DELETE FROM {table} WHERE {key} = ?", (ident,))
    async def delete_file(self, code):
        return await self._run(self._delete, "files", "code", code)
    async def put_folder(self, row):
        self._conn.execute("INSERT OR REPLACE INTO folders (fld_id) VALUES (?)", (row,))
    async def delete_folder(self, fld_id):
        return await self._run(self._delete, "folders", "fld_id", fld_id)
"""
    assert files_writers(source, "folders") == {"put_folder", "delete_folder"}
    assert files_writers(source, "files") == {"delete_file"}


def last_name(node: ast.expr) -> str | None:
    """`db` for `db`, `self._db`, `self.w.db` and `await self.db`: what a value is called."""
    while isinstance(node, ast.Await | ast.Call):
        node = node.value if isinstance(node, ast.Await) else node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def mentions_metadb(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return False
    text = ast.unparse(annotation)
    return re.search(r"\bMetaDb\b", text) is not None


def metadb_holders(paths: list[Path]) -> set[str]:
    """Names that hold a MetaDb somewhere in vipfs/: parameters, fields and attributes annotated
    `MetaDb`, and whatever is assigned from one of those or from `MetaDb.open` (to a fixpoint)."""
    holders = {"MetaDb"}  # the class itself: `MetaDb.put_file(db, ...)` is a write too
    flows: list[tuple[str | None, list[str]]] = []  # (the value's name, the names it is given)
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.arg) and mentions_metadb(node.annotation):
                holders.add(node.arg)
            if isinstance(node, ast.AnnAssign) and mentions_metadb(node.annotation):
                holders.add(last_name(node.target) or "")
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                source = "MetaDb" if _opens_metadb(node.value) else last_name(node.value)
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                flows.append((source, [n for t in targets if (n := last_name(t))]))
    grown = True
    while grown:
        before = len(holders)
        for source, targets in flows:
            if source in holders:
                holders.update(targets)
        grown = len(holders) > before
    return holders


def _opens_metadb(value: ast.expr) -> bool:
    return re.search(r"\bMetaDb\.open\(", ast.unparse(value)) is not None


def methods_of(path: Path) -> set[str]:
    """The method names of the classes in `path` (none when it does not exist yet)."""
    if not path.exists():
        return set()
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        item.name
        for cls in tree.body
        if isinstance(cls, ast.ClassDef)
        for item in cls.body
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
    }


CHECKED = [p for p in SOURCES if EMULATOR not in p.parents]
HOLDERS = metadb_holders(CHECKED)
# A writer's name that the metadata owner also offers (Metadata.finish_upload calls
# MetaDb.finish_upload) is a violation only when called on a MetaDb, told by the receiver's name.
SHARED_NAMES = FILES_WRITERS & methods_of(METADATA_OWNER)


def writes_of(path: Path) -> list[str]:
    """`line: expr` for each use (a call, or a method handed on) of a MetaDb files writer."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = [
        (node.lineno, f"{node.lineno}: {ast.unparse(node)}")
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in FILES_WRITERS
        and (node.attr not in SHARED_NAMES or last_name(node.value) in HOLDERS)
    ]
    return [text for _, text in sorted(found)]


def test_the_holder_finder_follows_annotations_and_assignments(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "class Q:\n"
        "    def __init__(self, db: MetaDb | None, metadata: Metadata) -> None:\n"
        "        self._store = db\n"
        "        self.meta = metadata\n"
        "async def f():\n"
        "    kept = await MetaDb.open(path)\n"
        "    again = kept\n"
    )
    found = metadb_holders([probe])
    assert {"db", "_store", "kept", "again"} <= found
    assert not {"metadata", "meta"} & found


@pytest.mark.parametrize(
    "path",
    [p for p in CHECKED if p not in (METADB, METADATA_OWNER)],
    ids=lambda p: module_name(p),
)
def test_only_the_metadata_owner_writes_the_files_table(path: Path) -> None:
    """One writer of the metadata: every change of a `files` or `folders` row goes through
    vipfs/vfs/metadata.py, so the model's copy and the db cannot drift apart. (The emulator's
    store has methods of the same names on its own database; it never sees vipfs's.)"""
    found = writes_of(path)
    assert not found, (
        f"{module_name(path)} writes the metadata tables itself ({'; '.join(found)}); "
        f"only {module_name(METADATA_OWNER)} may call MetaDb.{sorted(FILES_WRITERS)}"
    )


def title_escaping(path: Path) -> list[str]:
    """Imports of `html` (the module or its escape/unescape) and uses of html.escape/unescape."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"{node.lineno}: import {a.name}" for a in node.names if a.name == "html"]
        elif isinstance(node, ast.ImportFrom) and node.module == "html" and not node.level:
            found += [
                f"{node.lineno}: from html import {a.name}"
                for a in node.names
                if a.name in ("escape", "unescape", "*")
            ]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in ("escape", "unescape")
            and isinstance(node.value, ast.Name)
            and node.value.id == "html"
        ):
            found.append(f"{node.lineno}: html.{node.attr}")
    return sorted(found, key=lambda text: int(text.split(":")[0]))


def test_the_escaping_finder_sees_every_spelling(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import html\nfrom html import unescape as u\nx = html.escape('<')\n"
        "from html.parser import HTMLParser\n"
    )
    assert [line.split(":")[0] for line in title_escaping(probe)] == ["1", "2", "3"]


@pytest.mark.parametrize(
    "path",
    [p for p in SOURCES if p not in (NAMES, MARKUP) and EMULATOR not in p.parents],
    ids=lambda p: module_name(p),
)
def test_only_names_escapes_titles(path: Path) -> None:
    """Every title<->name rule lives in vipfs/vfs/names.py (`as_listed`, `host_text`): a second
    escape elsewhere is how a folder name ends up compared raw in one place and unescaped in
    another."""
    found = title_escaping(path)
    assert not found, f"{module_name(path)} escapes titles itself: {'; '.join(found)}"


OWNS = re.compile(r"^\s*Owns:", re.MULTILINE)
IMPORTS = re.compile(r"\bImports:")


@pytest.mark.parametrize("path", SOURCES, ids=module_name)
def test_every_module_says_what_it_owns_and_may_import(path: Path) -> None:
    """Each module's docstring names its one job ("Owns: …") and what it may import
    ("Imports: …"), so the layout can be read module by module and a new import is a decision."""
    doc = ast.get_docstring(ast.parse(path.read_text(), filename=str(path))) or ""
    missing = [
        label for label, rule in (("Owns:", OWNS), ("Imports:", IMPORTS)) if not rule.search(doc)
    ]
    assert not missing, f"{module_name(path)}: its docstring lacks {' and '.join(missing)}"
