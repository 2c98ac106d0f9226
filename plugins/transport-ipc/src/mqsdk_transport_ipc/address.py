"""``ipc://`` endpoint parsing, in libzmq's forms.

* ``ipc:///abs/path`` and ``ipc://relative/path`` (relative to the current directory
  when parsed; the endpoint keeps what the user wrote, as libzmq's ``last_endpoint`` does).
* ``ipc://*`` on bind: a fresh temporary directory + ``/socket``, made by ``listen``.
* ``ipc://@name``: the Linux abstract namespace (``sun_path`` starts with a NUL byte).
"""

from __future__ import annotations

import errno
import os
import sys
from dataclasses import dataclass

from mqsdk.plugin import EndpointError

__all__ = ["MAX_PATH_BYTES", "IpcAddress", "check_length", "parse_ipc"]

# sizeof(sockaddr_un.sun_path) minus the terminating NUL: 108 on Linux, 104 elsewhere.
MAX_PATH_BYTES = 107 if sys.platform.startswith("linux") else 103
HAS_ABSTRACT = sys.platform.startswith("linux")
EXAMPLE = "ipc:///tmp/feed.sock, ipc://feed.sock or ipc://@feed" + (
    "" if HAS_ABSTRACT else " (Linux only)"
)
BIND_EXAMPLE = f"{EXAMPLE}, or ipc://* for a temporary path"


@dataclass(frozen=True)
class IpcAddress:
    """A parsed ipc endpoint.

    ``written`` is the text after ``ipc://`` as given (``*`` for a temporary path);
    ``target`` is what bind/connect use: an absolute path (or the relative path when
    its absolute form would be too long), ``"\\0name"`` for an abstract name, or None
    for ``*`` (``listen`` makes the path).
    """

    written: str
    target: str | None

    @property
    def abstract(self) -> bool:
        return self.target is not None and self.target.startswith("\0")

    def __str__(self) -> str:
        return f"ipc://{self.written}"


def parse_ipc(address: str, *, bind: bool) -> IpcAddress:
    """Parse what follows ``ipc://``; raise EndpointError naming the problem."""
    example = BIND_EXAMPLE if bind else EXAMPLE
    endpoint = f"ipc://{address}"
    if not address:
        raise _error(endpoint, "the path is empty", example)
    if "\0" in address:
        raise _error(endpoint, "the path contains a NUL character", example)
    if address == "*":
        if not bind:
            raise _error(
                endpoint,
                "'*' (a fresh temporary path) is only valid for bind; connect to the "
                "endpoint that bind reported",
                example,
            )
        return IpcAddress("*", None)
    if address.startswith("@"):
        if not HAS_ABSTRACT:
            raise _error(
                endpoint,
                f"the abstract namespace (@name) is Linux-only, not {sys.platform}",
                example,
            )
        if address == "@":
            raise _error(endpoint, "the abstract name after '@' is empty", example)
        check_length(endpoint, address)
        return IpcAddress(address, "\0" + address[1:])
    check_length(endpoint, address)
    absolute = os.path.join(os.getcwd(), address)
    # Resolve a relative path now, so a later chdir() does not move the endpoint; keep
    # it relative (resolved by each syscall, as libzmq does) if that would be too long.
    target = absolute if _encoded_length(absolute) <= MAX_PATH_BYTES else address
    return IpcAddress(address, target)


def check_length(endpoint: str, path: str) -> None:
    """Refuse a path longer than sun_path allows, with libzmq's ENAMETOOLONG."""
    size = _encoded_length(path)
    if size < 0:
        raise _error(endpoint, "the path cannot be encoded for the file system", EXAMPLE)
    if size > MAX_PATH_BYTES:
        raise EndpointError(
            f"{endpoint}: the path is {size} bytes long, longer than the limit of "
            f"{MAX_PATH_BYTES} bytes (sockaddr_un.sun_path); use a shorter path such as "
            "ipc:///tmp/feed.sock",
            errno.ENAMETOOLONG,
        )


def _encoded_length(path: str) -> int:
    try:
        return len(os.fsencode(path))
    except UnicodeError:
        return -1


def _error(endpoint: str, problem: str, example: str) -> EndpointError:
    return EndpointError(f"{endpoint}: {problem}; expected an endpoint such as {example}")
