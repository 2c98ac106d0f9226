"""``@context()`` and ``@socket(type)``: a function gets a fresh context or socket as an
argument, closed again when it returns (pyzmq's ``zmq.decorators``).

::

    @context()
    @socket(mqsdk.PUSH)
    def work(ctx, push):
        ...

Without a name the object is appended to the positional arguments; with one (the first
positional argument when it is a string, or ``name=``) it is passed as that keyword.
The remaining decorator arguments go to ``Context(...)`` or ``ctx.socket(...)``.
``@socket`` takes its context from the call's arguments (the keyword ``context_name``,
default ``"context"``, else the first Context among the positional arguments), else
:meth:`Context.instance`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

__all__ = ["context", "socket"]

_F = TypeVar("_F", bound=Callable[..., Any])
_Factory = Callable[..., AbstractContextManager[Any]]


def _split_name(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str | None, tuple[Any, ...], dict[str, Any]]:
    """The argument name the decorator injects, and what is left for the factory."""
    kwargs = dict(kwargs)
    if isinstance(kwargs.get("name"), str):
        return kwargs.pop("name"), args, kwargs
    if args and isinstance(args[0], str):
        return args[0], args[1:], kwargs
    return None, args, kwargs


def _injecting(
    choose_factory: Callable[[tuple[Any, ...], dict[str, Any]], _Factory],
    name: str | None,
    factory_args: tuple[Any, ...],
    factory_kwargs: dict[str, Any],
) -> Callable[[_F], _F]:
    def decorate(func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            factory = choose_factory(args, kwargs)
            with factory(*factory_args, **factory_kwargs) as made:
                if name is None:
                    return func(*args, made, **kwargs)
                if name in kwargs:
                    raise TypeError(f"{func.__name__}() got multiple values for argument {name!r}")
                return func(*args, **{**kwargs, name: made})

        return wrapper  # type: ignore[return-value]

    return decorate


def context(*args: Any, **kwargs: Any) -> Callable[[_F], _F]:
    """Call the function with a new :class:`mqsdk.Context`, terminated when it returns."""
    from mqsdk._kernel.context import Context

    name, factory_args, factory_kwargs = _split_name(args, kwargs)
    return _injecting(lambda _a, _k: Context, name, factory_args, factory_kwargs)


def socket(*args: Any, **kwargs: Any) -> Callable[[_F], _F]:
    """Call the function with a new socket (the arguments are ``ctx.socket``'s), closed
    when it returns."""
    from mqsdk._kernel.context import Context

    name, factory_args, factory_kwargs = _split_name(args, kwargs)
    context_name = factory_kwargs.pop("context_name", "context")

    def choose_factory(call_args: tuple[Any, ...], call_kwargs: dict[str, Any]) -> _Factory:
        named = call_kwargs.get(context_name)
        if isinstance(named, Context):
            return named.socket
        found = next((arg for arg in call_args if isinstance(arg, Context)), None)
        return (found or Context.instance()).socket

    return _injecting(choose_factory, name, factory_args, factory_kwargs)
