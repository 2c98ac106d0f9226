"""REQ, REP, DEALER and ROUTER: request-reply and its asynchronous building blocks
(RFC 28 "REQ-REP"; libzmq's req.cpp, rep.cpp, dealer.cpp, router.cpp)."""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk.plugin import Pattern, hookimpl
from mqsdk_pattern_reqrep.dealer import Dealer
from mqsdk_pattern_reqrep.rep import Rep
from mqsdk_pattern_reqrep.req import Req
from mqsdk_pattern_reqrep.router import Router

__all__ = ["Dealer", "Rep", "Req", "Router", "mqsdk_patterns"]


@hookimpl
def mqsdk_patterns() -> Sequence[type[Pattern]]:
    return [Req, Rep, Dealer, Router]
