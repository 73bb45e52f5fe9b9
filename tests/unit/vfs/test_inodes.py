"""The inode table against a reference model: random references and forgets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vipfs.vfs.inodes import ROOT_INO, FileKey, FolderKey, InodeTable, NodeKey, VirtualKey

keys = st.sampled_from([FolderKey(5), FolderKey(6), FileKey("a"), FileKey("b"), VirtualKey("x")])
ops = st.lists(
    st.tuples(st.sampled_from(["ref", "forget", "peek"]), keys, st.integers(1, 3)), max_size=60
)


@given(ops)
def test_nodes_live_exactly_while_referenced(sequence: list[tuple[str, NodeKey, int]]) -> None:
    table = InodeTable()
    refs: dict[NodeKey, int] = {}
    inos: dict[NodeKey, int] = {}
    for op, key, n in sequence:
        if op == "ref":
            node = table.node(key, name="n")
            if key in inos:
                assert node.ino == inos[key]  # same identity, same inode while alive
            inos[key] = node.ino
            table.remember(node.ino, n)
            refs[key] = refs.get(key, 0) + n
        elif op == "forget" and key in inos:
            take = min(n, refs[key])
            table.forget(inos[key], take)
            refs[key] -= take
            if refs[key] == 0:
                del refs[key], inos[key]
        elif op == "peek":  # a readdir entry the kernel refused leaves nothing behind
            node = table.node(key)
            if key not in inos:
                table.drop_unreferenced(node.ino)
        for k, count in refs.items():
            live = table.get(inos[k])
            assert live is not None and live.lookups == count and live.key == k
        assert len(table) == 1 + len(refs)
        assert table.get(ROOT_INO) is not None
    assert len(set(inos.values())) == len(inos)


def test_a_folder_path_walks_up_to_the_root_and_stops_where_a_node_was_forgotten() -> None:
    table = InodeTable()
    a = table.node(FolderKey(5), name="A")
    b = table.node(FolderKey(6), name="B", parent=a.ino)
    assert table.folder_path(0) == ""
    assert table.folder_path(6) == "A/B"
    table.drop_unreferenced(a.ino)
    assert table.folder_path(6) is None  # its parent is no longer known
    assert table.folder_path(7) is None
    b.parent = b.ino  # a loop is no path
    assert table.folder_path(6) is None
