"""Imports a dependency that is not installed, as a real broken plugin would."""

import mqsdk_plugin_broken_missing_dependency  # noqa: F401
