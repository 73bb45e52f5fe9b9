"""The one API-error → errno mapping (`from_api`) and the one time budget (`bounded`).

The table below names the errno of EVERY error class of the API layer. It is compared with the
classes that exist, found by walking ApiError's subclasses after importing all of vipfs.api: a
new error class fails here until someone decides which errno a user's tool should see for it.
"""

from __future__ import annotations

import errno
import importlib
import pkgutil

import pytest
import trio
from trio.testing import MockClock

import vipfs.api
from vipfs.api import errors as api_errors
from vipfs.api.errors import ApiError
from vipfs.vfs.errors import VfsError, bounded, from_api

EXPECTED: dict[str, int] = {
    "ApiError": errno.EIO,
    "AuthError": errno.EACCES,
    "NotFoundError": errno.ENOENT,
    "RequestRejectedError": errno.EINVAL,
    "UnsupportedError": errno.EPERM,
    "UploadRejectedError": errno.EIO,
    "TransientError": errno.EIO,
    "RateLimitedError": errno.EIO,
    "NotSentError": errno.EIO,
    "LinkExpiredError": errno.EIO,
    "TooSlowError": errno.EIO,
    "ProtocolError": errno.EIO,
}
HOST_SAID = "the host said no"


def api_error_classes() -> list[type[ApiError]]:
    """ApiError and every subclass defined anywhere in vipfs.api (all its modules imported)."""
    for info in pkgutil.walk_packages(vipfs.api.__path__, "vipfs.api."):
        importlib.import_module(info.name)
    found: list[type[ApiError]] = []
    todo: list[type[ApiError]] = [ApiError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("vipfs.api") and cls not in found:
            found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def instance(cls: type[ApiError]) -> ApiError:
    """One error of `cls`, built with the arguments its constructor needs."""
    if issubclass(cls, api_errors.RateLimitedError):
        return cls(HOST_SAID, retry_after=60.0, scope="min", op="folder/list")
    if issubclass(cls, api_errors.UploadRejectedError):
        return cls(HOST_SAID, filename="clip.mp4")
    return cls(HOST_SAID, status=403, op="folder/list")


def test_every_api_error_class_has_an_errno_decided() -> None:
    names = sorted(cls.__name__ for cls in api_error_classes())
    assert names == sorted(EXPECTED), "an API error class without a decided errno (or a gone one)"


@pytest.mark.parametrize("cls", api_error_classes(), ids=lambda c: c.__name__)
def test_from_api_maps_each_error_class(cls: type[ApiError]) -> None:
    mapped = from_api(instance(cls), "listing Clips")
    assert isinstance(mapped, VfsError)
    assert mapped.errno == EXPECTED[cls.__name__], errno.errorcode[mapped.errno]
    assert mapped.why.startswith("listing Clips")  # says what was being done...
    assert HOST_SAID in mapped.why  # ...and what the host answered


def test_a_subclass_maps_like_its_base() -> None:
    class GoneFolder(api_errors.NotFoundError):
        pass

    assert from_api(GoneFolder("Folder not exist"), "rmdir x").errno == errno.ENOENT


async def test_bounded_gives_eio_with_the_budget_when_the_call_is_slow(
    autojump_clock: MockClock,
) -> None:
    started = trio.current_time()

    async def never_answers() -> str:
        await trio.sleep(3600)
        return "too late"

    with pytest.raises(VfsError) as err:
        await bounded(never_answers(), 2.5, "listing of folder 7")
    assert err.value.errno == errno.EIO
    assert err.value.why == "listing of folder 7: no answer within 2.5 s"
    assert trio.current_time() - started == pytest.approx(2.5)  # virtual time: gave up on time


async def test_bounded_returns_what_an_answer_within_the_budget_gives(
    autojump_clock: MockClock,
) -> None:
    async def answers() -> str:
        await trio.sleep(2.4)
        return "listing"

    assert await bounded(answers(), 2.5, "listing of folder 7") == "listing"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (api_errors.AuthError("Invalid key", status=403), errno.EACCES),
        (api_errors.NotFoundError("no such file", status=404), errno.ENOENT),
        (api_errors.TransientError("502 Bad Gateway", status=502), errno.EIO),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else errno.errorcode[v],
)
async def test_bounded_maps_an_api_error(error: ApiError, expected: int) -> None:
    async def refused() -> None:
        raise error

    with pytest.raises(VfsError) as err:
        await bounded(refused(), 25.0, "open clip.mp4")
    assert err.value.errno == expected
    assert err.value.why.startswith("open clip.mp4")


async def test_bounded_leaves_other_errors_alone() -> None:
    """A bug below is not an API answer: it must not be dressed up as an errno."""

    async def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await bounded(broken(), 25.0, "open clip.mp4")


async def test_an_outer_cancel_is_not_an_eio(autojump_clock: MockClock) -> None:
    """Unmount cancels pending calls: that must stay a cancellation, not become EIO."""

    async def never_answers() -> None:
        await trio.sleep(3600)

    with trio.move_on_after(1.0) as scope:
        await bounded(never_answers(), 25.0, "listing of folder 7")
    assert scope.cancelled_caught
