"""``zmq.utils.win32``: let CTRL-C reach a program blocked in a poll on Windows.

Python turns CTRL-C into KeyboardInterrupt only when the main thread runs Python code;
a thread blocked in a long wait does not. On Windows, :class:`allow_interrupt` registers
a console control handler (run by Windows on its own thread) that calls ``action``, which
should wake the wait (send to a socket the poll watches, stop the event loop...). On
other systems CTRL-C already interrupts, and this is a no-op, as in pyzmq.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import TracebackType
from typing import Any

_CTRL_C_EVENT = 0


class allow_interrupt:
    """``with allow_interrupt(action): ...``: call ``action()`` (which must not raise)
    when CTRL-C arrives while the block runs (Windows only)."""

    def __init__(self, action: Callable[[], Any] | None = None) -> None:
        self._action = action or (lambda: None)
        self._handler: Any = None
        if os.name == "nt":
            self._handler = self._make_handler()

    def _make_handler(self) -> Any:
        import ctypes
        from ctypes import wintypes

        handler_type = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)  # type: ignore[attr-defined]

        def on_console_event(event: int) -> int:
            if event == _CTRL_C_EVENT:
                self._action()
            # "Not handled": Python's own handler still raises KeyboardInterrupt.
            return 0

        self._set_handler = ctypes.windll.kernel32.SetConsoleCtrlHandler  # type: ignore[attr-defined]
        self._set_handler.argtypes = (handler_type, wintypes.BOOL)
        self._set_handler.restype = wintypes.BOOL
        return handler_type(on_console_event)

    def _install(self, add: bool) -> None:
        if self._handler is not None and not self._set_handler(self._handler, int(add)):
            raise OSError("SetConsoleCtrlHandler failed")

    def __enter__(self) -> None:
        self._install(True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._install(False)


__all__ = ["allow_interrupt"]
