"""The entry-by-entry JSON decoder reads what json.loads reads, and refuses what it refuses."""

from __future__ import annotations

import gc
import json
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from vipfs.api import offloop

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(_json, st.sampled_from([None, 2]))
def test_it_decodes_as_json_loads(value: Any, indent: int | None) -> None:
    text = json.dumps(value, indent=indent)
    assert offloop.loads(text) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    ['{"a":1,}', '{"a" 1}', "[1 2]", "[1,]", '{"a":1} x', "{1:2}", '{"a":[1,{"b":}]}', "", "{"],
)
def test_it_refuses_what_json_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        offloop.loads(text)


def test_deep_nesting_is_a_recursion_error_not_a_crash() -> None:
    with pytest.raises(RecursionError):
        offloop.loads('{"result":' + "[" * 100_000 + "]" * 100_000 + "}")


async def test_the_collector_is_back_on_after_the_work() -> None:
    seen: list[bool] = []

    def work() -> int:
        seen.append(gc.isenabled())
        return 7

    result = await offloop.run_sync(work, limiter=trio.CapacityLimiter(1))
    assert result == 7 and seen == [False] and gc.isenabled()


def test_entries_share_their_key_strings_as_with_json_loads() -> None:
    text = json.dumps({"result": {"files": [{"file_code": "a"}, {"file_code": "b"}]}})
    first, second = offloop.loads(text)["result"]["files"]
    assert next(iter(first)) is next(iter(second))  # one string, not one per entry
