"""HostFeatures: how probe answers are classified, and that a network blip is not a verdict."""

from __future__ import annotations

from typing import cast

import pytest
import trio

from vipfs.api.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    RateLimitedError,
    RequestRejectedError,
    TransientError,
    UnsupportedError,
)
from vipfs.api.protocol import XvsApi
from vipfs.api.records import DirectLink
from vipfs.vfs.features import BOGUS_CODE, HostFeatures


class ProbeHost:
    """Answers each probed operation with a queued error (or success when the queue is empty)."""

    def __init__(self, **answers: list[ApiError | None]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, object]] = []

    async def _answer(self, op: str, arg: object) -> None:
        self.calls.append((op, arg))
        await trio.lowlevel.checkpoint()
        queue = self.answers.get(op, [])
        error = queue.pop(0) if queue else None
        if error is not None:
            raise error

    async def file_direct_link(self, code: str) -> DirectLink:
        await self._answer("direct_link", code)
        return DirectLink(versions=[], length=None, player_img=None)

    async def file_delete(self, code: str) -> None:
        await self._answer("delete", code)

    async def folder_delete(self, fld_id: int) -> None:
        await self._answer("folder_delete", fld_id)


def api(host: ProbeHost) -> XvsApi:
    return cast(XvsApi, host)


NOT_ALLOWED = UnsupportedError("This function not allowed in API", status=403)
OLD_BUILD = UnsupportedError("Invalid operation", status=400)


async def test_probe_asks_harmless_questions_once_each() -> None:
    host = ProbeHost()
    features = HostFeatures()
    await features.probe(api(host))
    assert host.calls == [
        ("direct_link", BOGUS_CODE),
        ("delete", BOGUS_CODE),
        ("folder_delete", 0),
    ]
    assert BOGUS_CODE == "x" * 12
    await features.probe(api(host))  # everything known: no more calls
    assert len(host.calls) == 3


async def test_answers_about_the_bogus_object_mean_enabled() -> None:
    host = ProbeHost(
        direct_link=[NotFoundError("no file", status=404)],
        delete=[NotFoundError("No file", status=404)],
        folder_delete=[RequestRejectedError("Folder id required", status=400)],
    )
    features = HostFeatures()
    await features.probe(api(host))
    assert (features.direct_link, features.delete, features.folder_delete) == (True, True, True)
    assert features.complete


async def test_folder_not_exist_means_enabled() -> None:
    host = ProbeHost(folder_delete=[NotFoundError("Folder not exist", status=403)])
    features = HostFeatures()
    await features.probe(api(host))
    assert features.known("folder_delete") is True


async def test_refusals_mean_disabled() -> None:
    host = ProbeHost(direct_link=[NOT_ALLOWED], delete=[NOT_ALLOWED], folder_delete=[OLD_BUILD])
    features = HostFeatures()
    await features.probe(api(host))
    assert features.as_dict() == {
        "direct_link": False,
        "delete": False,
        "folder_delete": False,
        "clone": True,
    }
    assert not features.direct_link and not features.delete and not features.folder_delete


async def test_transient_failure_leaves_unknown_and_is_probed_again() -> None:
    host = ProbeHost(
        direct_link=[TransientError("timed out")],
        delete=[RateLimitedError("Requests limit reached: 5 per min", retry_after=3, scope="min")],
        folder_delete=[RequestRejectedError("Folder id required", status=400)],
    )
    features = HostFeatures()
    await features.probe(api(host))
    assert features.known("direct_link") is None
    assert features.known("delete") is None
    assert features.known("folder_delete") is True
    assert not features.direct_link  # unknown reads as off for callers that must decide now
    assert not features.complete

    host.answers = {"direct_link": [NotFoundError("no file", status=404)], "delete": [NOT_ALLOWED]}
    await features.probe(api(host))
    assert features.known("direct_link") is True
    assert features.known("delete") is False
    assert [op for op, _ in host.calls[3:]] == ["direct_link", "delete"]  # only the unknown ones


async def test_other_errors_are_not_guessed() -> None:
    host = ProbeHost(direct_link=[AuthError("Wrong auth", status=403)])
    features = HostFeatures()
    await features.probe(api(host))
    assert features.known("direct_link") is None


async def test_concurrent_probes_share_one_round() -> None:
    host = ProbeHost()
    features = HostFeatures()
    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(features.probe, api(host))
    assert len(host.calls) == 3


async def test_probe_can_ask_about_one_feature() -> None:
    host = ProbeHost()
    features = HostFeatures()
    await features.probe(api(host), ["direct_link"])
    assert host.calls == [("direct_link", BOGUS_CODE)]
    assert features.known("delete") is None
    with pytest.raises(ValueError, match="cannot be probed"):
        await features.probe(api(host), ["clone"])


def test_clone_is_assumed_until_refused() -> None:
    features = HostFeatures()
    assert features.clone
    features.mark_unsupported("clone")
    assert not features.clone
    assert features.known("clone") is False


def test_remembered_answers_round_trip() -> None:
    features = HostFeatures({"direct_link": True, "delete": False, "bogus": True})
    again = HostFeatures(features.as_dict())
    assert again.as_dict() == features.as_dict()
    assert again.direct_link and not again.delete and again.known("folder_delete") is None
    assert "bogus" not in again.as_dict()
    assert "direct_link=True" in repr(again)


def test_unknown_feature_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown host feature"):
        HostFeatures().mark_unsupported("teleport")
