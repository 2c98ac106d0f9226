"""The kernel's internals: nothing here is public API.

Applications use the names at the top of :mod:`mqsdk` (and :mod:`mqsdk.asyncio`,
:mod:`mqsdk.auth`); plugins use :mod:`mqsdk.plugin`. Modules here may change in any
release.
"""
