"""The kernel's built-in plugin ``null``: the NULL security mechanism.

It is registered like any other plugin, so ``mqsdk plugins`` lists it, but it is
essential: configuration cannot disable it (a ZMTP socket without NULL could not talk
to a default libzmq peer at all).
"""

from __future__ import annotations

from collections.abc import Sequence

from mqsdk._kernel.mechanism import Mechanism
from mqsdk.hookspecs import hookimpl


@hookimpl
def mqsdk_mechanisms() -> Sequence[type[Mechanism]]:
    from mqsdk.zmtp.null import NullMechanism

    return [NullMechanism]
