"""Configuration: which plugins load, which poller runs, context defaults.

Four layers, highest precedence first:

=========  ===============================================================
code       ``mqsdk.Context(config=mqsdk.Config(...))`` or a plain dict;
           only the fields you pass override the layers below
env        ``MQSDK_POLLER``, ``MQSDK_PLUGINS``, ``MQSDK_DISABLE_PLUGINS``,
           ``MQSDK_DISABLE_PLUGIN_AUTOLOAD``, ``MQSDK_IO_THREADS``
file       the TOML file named by ``MQSDK_CONFIG``; otherwise the nearest
           ``mqsdk.toml`` (top-level keys) or ``pyproject.toml`` with a
           ``[tool.mqsdk]`` table, searched from the working directory upward
defaults   the field defaults below
=========  ===============================================================

A setting from a higher layer replaces the lower one whole (lists are not merged).
Every value is validated; an error names the setting, the value, the layer it came from
and what is allowed.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mqsdk._kernel.options import validate_defaults
from mqsdk.errors import ConfigError

ENV_POLLER = "MQSDK_POLLER"
ENV_PLUGINS = "MQSDK_PLUGINS"
ENV_DISABLE = "MQSDK_DISABLE_PLUGINS"
ENV_NO_AUTOLOAD = "MQSDK_DISABLE_PLUGIN_AUTOLOAD"
ENV_IO_THREADS = "MQSDK_IO_THREADS"
ENV_CONFIG = "MQSDK_CONFIG"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

# The variable that sets each field, for error messages.
_ENV_FOR_FIELD = {
    "poller": ENV_POLLER,
    "plugins": ENV_PLUGINS,
    "disable_plugins": ENV_DISABLE,
    "plugin_autoload": ENV_NO_AUTOLOAD,
    "io_threads": ENV_IO_THREADS,
}


def _check_names(values: list[str], what: str) -> list[str]:
    for value in values:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} is not a plugin name ({what} are entry-point names)")
    return values


class Config(BaseModel):
    """Effective mqsdk configuration. Immutable; build a new one to change it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    """Unknown settings are refused, and a Config never changes once made."""

    plugin_autoload: bool = True
    """Load every plugin installed in the ``mqsdk.plugins`` entry-point group.
    When false, only the built-in plugins and those named in ``plugins`` load."""
    plugins: tuple[str, ...] = ()
    """Plugins to load when ``plugin_autoload`` is false (checked to exist either way)."""
    disable_plugins: tuple[str, ...] = ()
    """Plugins never to load. Essential built-ins (``null``) cannot be disabled."""
    poller: str = "auto"
    """``"auto"`` (the best available: epoll > kqueue > poll > select) or a poller name."""
    io_threads: int = Field(default=1, ge=1, le=64)
    """I/O threads (reactors) per context; connections are spread over them."""
    socket_defaults: dict[str, Any] = Field(default_factory=dict)
    """Option values every new socket of a context starts with (``{"sndhwm": 5000}``)."""

    @field_validator("plugins", "disable_plugins", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("plugins", "disable_plugins")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_names(list(value), "plugins"))

    @field_validator("poller")
    @classmethod
    def _poller(cls, value: str) -> str:
        if value != "auto" and not _NAME.match(value):
            raise ValueError("must be 'auto' or the name of a poller plugin such as 'epoll'")
        return value

    def key(self) -> str:
        """A stable text form, used to cache what was resolved for this configuration."""
        return self.model_dump_json()


class LoadedConfig:
    """A validated :class:`Config` plus where each setting came from."""

    def __init__(self, config: Config, sources: dict[str, str], file: Path | None) -> None:
        self.config = config
        self.sources = sources
        self.file = file

    def source_of(self, field: str) -> str:
        """``"code"``, ``"environment variable MQSDK_POLLER"``, ``"file ..."`` or ``"default"``."""
        return self.sources.get(field, "default")


def find_config_file(
    start: Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Path, dict[str, Any]] | None:
    """The TOML file and table that configure mqsdk here, or None.

    ``MQSDK_CONFIG`` wins. Otherwise walk up from ``start`` (the working directory): in
    each directory ``mqsdk.toml`` first, then ``pyproject.toml`` if it has ``[tool.mqsdk]``.
    """
    explicit = (os.environ if environ is None else environ).get(ENV_CONFIG)
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            raise ConfigError(
                f"{ENV_CONFIG}={explicit!r} is a directory; name the TOML file itself "
                f"(for example {str(path / 'mqsdk.toml')!r})"
            )
        if not path.is_file():
            raise ConfigError(f"{ENV_CONFIG}={explicit!r}: no such file")
        data = _read_toml(path)
        table = data.get("tool", {}).get("mqsdk") if path.name == "pyproject.toml" else data
        return path, dict(table or {})
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        own = directory / "mqsdk.toml"
        if own.is_file():
            return own, _read_toml(own)
        project = directory / "pyproject.toml"
        if project.is_file():
            table = _read_toml(project).get("tool", {}).get("mqsdk")
            if table is not None:
                return project, dict(table)
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read mqsdk configuration from {path}: {exc}") from None


def _env_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    if ENV_POLLER in environ:
        layer["poller"] = environ[ENV_POLLER].strip()
    if ENV_PLUGINS in environ:
        layer["plugins"] = environ[ENV_PLUGINS]
    if ENV_DISABLE in environ:
        layer["disable_plugins"] = environ[ENV_DISABLE]
    if ENV_NO_AUTOLOAD in environ:
        raw = environ[ENV_NO_AUTOLOAD].strip().lower()
        if raw in _TRUE:
            layer["plugin_autoload"] = False
        elif raw not in _FALSE:
            raise ConfigError(
                f"{ENV_NO_AUTOLOAD}={environ[ENV_NO_AUTOLOAD]!r}: "
                "use 1 (or true/yes/on) to turn plugin autoload off, 0 or empty to leave it on"
            )
    if ENV_IO_THREADS in environ:
        layer["io_threads"] = environ[ENV_IO_THREADS].strip()
    return layer


def load_config(
    code: Config | Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    start: Path | None = None,
) -> LoadedConfig:
    """Merge code > environment > file > defaults into one validated configuration."""
    environ = os.environ if environ is None else environ
    sources: dict[str, str] = {}
    merged: dict[str, Any] = {}

    found = find_config_file(start, environ)
    file_path = None
    if found is not None:
        file_path, table = found
        unknown = sorted(set(table) - set(Config.model_fields))
        if unknown:
            raise ConfigError(
                f"{file_path}: unknown mqsdk setting(s) {', '.join(unknown)}; "
                f"known settings: {', '.join(Config.model_fields)}"
            )
        merged.update(table)
        sources.update(dict.fromkeys(table, f"file {file_path}"))

    env_layer = _env_layer(environ)
    merged.update(env_layer)
    sources.update({key: f"environment variable {_ENV_FOR_FIELD[key]}" for key in env_layer})

    if code is not None:
        if isinstance(code, Config):
            code_layer = {name: getattr(code, name) for name in code.model_fields_set}
        else:
            code_layer = dict(code)
        merged.update(code_layer)
        sources.update(dict.fromkeys(code_layer, "code"))

    try:
        config = Config.model_validate(merged)
    except ValidationError as exc:
        raise _explain(exc, merged, sources) from None
    if config.socket_defaults:
        checked = validate_defaults(config.socket_defaults, sources.get("socket_defaults", "code"))
        config = config.model_copy(update={"socket_defaults": checked})
    return LoadedConfig(config, sources, file_path)


def _explain(exc: ValidationError, merged: dict[str, Any], sources: dict[str, str]) -> ConfigError:
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "?"
        where = sources.get(field, "default")
        if err["type"] == "extra_forbidden":
            lines.append(
                f"unknown setting {field!r} (from {where}); "
                f"known settings: {', '.join(Config.model_fields)}"
            )
            continue
        value = merged.get(field, err.get("input"))
        message = str(err["msg"]).removeprefix("Value error, ")
        lines.append(f"setting {field}={value!r} (from {where}): {message}")
    return ConfigError("invalid mqsdk configuration: " + "; ".join(lines))
