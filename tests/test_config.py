"""Configuration layers, precedence and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqsdk.config import Config, load_config
from mqsdk.errors import ConfigError


def test_defaults(tmp_path: Path) -> None:
    loaded = load_config(environ={}, start=tmp_path)
    assert loaded.config == Config()
    assert loaded.config.poller == "auto"
    assert loaded.config.plugin_autoload is True
    assert loaded.file is None
    assert loaded.source_of("poller") == "default"


def test_environment_variables_are_read(tmp_path: Path) -> None:
    env = {
        "MQSDK_POLLER": "select",
        "MQSDK_DISABLE_PLUGINS": "poll, kqueue,,",
        "MQSDK_PLUGINS": "epoll",
        "MQSDK_DISABLE_PLUGIN_AUTOLOAD": "1",
        "MQSDK_IO_THREADS": "3",
    }
    config = load_config(environ=env, start=tmp_path).config
    assert config.poller == "select"
    assert config.disable_plugins == ("poll", "kqueue")
    assert config.plugins == ("epoll",)
    assert config.plugin_autoload is False
    assert config.io_threads == 3


@pytest.mark.parametrize("value", ["0", "", "false", "off"])
def test_autoload_stays_on_for_false_values(tmp_path: Path, value: str) -> None:
    env = {"MQSDK_DISABLE_PLUGIN_AUTOLOAD": value}
    assert load_config(environ=env, start=tmp_path).config.plugin_autoload is True


def test_autoload_variable_with_nonsense_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MQSDK_DISABLE_PLUGIN_AUTOLOAD='maybe'"):
        load_config(environ={"MQSDK_DISABLE_PLUGIN_AUTOLOAD": "maybe"}, start=tmp_path)


def test_pyproject_table_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.mqsdk]\npoller = "poll"\ndisable_plugins = ["select"]\n'
    )
    nested = tmp_path / "src" / "app"
    nested.mkdir(parents=True)
    loaded = load_config(environ={}, start=nested)
    assert loaded.config.poller == "poll"
    assert loaded.config.disable_plugins == ("select",)
    assert loaded.file == tmp_path / "pyproject.toml"
    assert loaded.source_of("poller") == f"file {tmp_path / 'pyproject.toml'}"


def test_pyproject_without_table_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / "mqsdk.toml").write_text('poller = "select"\n')
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load_config(environ={}, start=inner).config.poller == "select"


def test_mqsdk_toml_wins_over_pyproject_in_the_same_directory(tmp_path: Path) -> None:
    (tmp_path / "mqsdk.toml").write_text('poller = "select"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.mqsdk]\npoller = "poll"\n')
    assert load_config(environ={}, start=tmp_path).config.poller == "select"


def test_mqsdk_config_names_the_file(tmp_path: Path) -> None:
    named = tmp_path / "elsewhere.toml"
    named.write_text("io_threads = 2\n")
    (tmp_path / "mqsdk.toml").write_text("io_threads = 4\n")
    loaded = load_config(environ={"MQSDK_CONFIG": str(named)}, start=tmp_path)
    assert loaded.config.io_threads == 2
    assert loaded.file == named


def test_mqsdk_config_pointing_nowhere_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"MQSDK_CONFIG=.*no such file"):
        load_config(environ={"MQSDK_CONFIG": str(tmp_path / "missing.toml")}, start=tmp_path)


def test_mqsdk_config_naming_a_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"MQSDK_CONFIG=.* is a directory; name the TOML file"):
        load_config(environ={"MQSDK_CONFIG": str(tmp_path)}, start=tmp_path)


def test_precedence_code_over_env_over_file_over_default(tmp_path: Path) -> None:
    (tmp_path / "mqsdk.toml").write_text('poller = "poll"\nio_threads = 2\nplugins = ["a"]\n')
    env = {"MQSDK_POLLER": "select", "MQSDK_IO_THREADS": "3"}
    loaded = load_config(Config(io_threads=5), environ=env, start=tmp_path)
    assert loaded.config.io_threads == 5  # code
    assert loaded.config.poller == "select"  # env beats file
    assert loaded.config.plugins == ("a",)  # file beats default
    assert loaded.config.disable_plugins == ()  # default
    assert loaded.source_of("io_threads") == "code"
    assert loaded.source_of("poller") == "environment variable MQSDK_POLLER"


def test_code_config_only_overrides_fields_it_sets(tmp_path: Path) -> None:
    env = {"MQSDK_POLLER": "select"}
    # Config() sets nothing explicitly, so the environment still decides the poller.
    assert load_config(Config(), environ=env, start=tmp_path).config.poller == "select"
    assert load_config({"poller": "poll"}, environ=env, start=tmp_path).config.poller == "poll"


def test_bad_value_names_setting_value_and_source(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(environ={"MQSDK_IO_THREADS": "zero"}, start=tmp_path)
    text = str(info.value)
    assert "io_threads='zero'" in text
    assert "environment variable MQSDK_IO_THREADS" in text
    assert "integer" in text


def test_out_of_range_value_says_what_is_allowed(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"io_threads=0 \(from code\).*greater than or equal to 1"
    ):
        load_config({"io_threads": 0}, environ={}, start=tmp_path)


def test_bad_poller_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be 'auto' or the name of a poller"):
        load_config(environ={"MQSDK_POLLER": "no such/thing"}, start=tmp_path)


def test_unknown_key_in_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "mqsdk.toml").write_text('pollr = "select"\n')
    with pytest.raises(ConfigError, match=r"mqsdk.toml: unknown mqsdk setting\(s\) pollr"):
        load_config(environ={}, start=tmp_path)


def test_unreadable_toml_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "mqsdk.toml").write_text("poller = \n")
    with pytest.raises(ConfigError, match="cannot read mqsdk configuration"):
        load_config(environ={}, start=tmp_path)


def test_socket_defaults_are_validated_against_the_options_model(tmp_path: Path) -> None:
    loaded = load_config(
        {"socket_defaults": {"sndhwm": 10, "linger": 0}}, environ={}, start=tmp_path
    )
    assert loaded.config.socket_defaults == {"sndhwm": 10, "linger": 0}
    with pytest.raises(ConfigError, match=r"unknown option\(s\) sndhwn"):
        load_config({"socket_defaults": {"sndhwn": 10}}, environ={}, start=tmp_path)
    with pytest.raises(ConfigError, match="sndhwm=-2"):
        load_config({"socket_defaults": {"sndhwm": -2}}, environ={}, start=tmp_path)


def test_socket_defaults_from_toml(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.mqsdk.socket_defaults]\nrcvhwm = 7\n")
    assert load_config(environ={}, start=tmp_path).config.socket_defaults == {"rcvhwm": 7}


def test_config_is_immutable() -> None:
    config = Config()
    with pytest.raises(ValueError, match="frozen"):
        config.poller = "select"  # type: ignore[misc]
