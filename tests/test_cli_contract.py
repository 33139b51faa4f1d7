"""The CLI's error contract: every command goes through ``handle_errors``; each error class has its own
stable exit code; a traceback only with ``--debug``; an unexpected exception is reported as a bug (exit 1)."""

from __future__ import annotations

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from ofa.cli.common import DEBUG, handle_errors
from ofa.cli.main import app
from ofa.errors import (
    EXIT_CODES,
    ArtifactError,
    ConfigError,
    DataError,
    DeviceError,
    ExportError,
    InfeasibleError,
    OFAError,
)

CLASSES = [ConfigError, DataError, ArtifactError, DeviceError, ExportError, InfeasibleError]


def _commands(command, path=()):
    sub = getattr(command, "commands", None)
    if sub is None:
        yield " ".join(path), command
        return
    for name, child in sub.items():
        yield from _commands(child, path + (name,))


def test_every_command_goes_through_the_error_handler():
    commands = dict(_commands(typer.main.get_command(app)))
    assert len(commands) >= 20 and {"search", "lut build", "zoo", "train", "verify"} <= set(commands)
    unwrapped = sorted(name for name, cmd in commands.items() if not getattr(cmd.callback, "handles_ofa_errors", False))
    assert unwrapped == []


def test_each_error_class_has_its_own_documented_exit_code():
    codes = [cls.exit_code for cls in CLASSES]
    assert len(set(codes)) == len(codes) and set(codes).isdisjoint({0, 1, 2, 130})
    assert all(code in EXIT_CODES and cls.__name__ in EXIT_CODES[code] for cls, code in zip(CLASSES, codes))


def _app_raising(exc: BaseException) -> typer.Typer:
    demo = typer.Typer()

    @demo.command()
    @handle_errors
    def boom() -> None:
        raise exc

    @demo.command()
    def other() -> None:  # a second command keeps typer from collapsing the group
        pass

    return demo


@pytest.mark.parametrize("cls", CLASSES)
def test_an_ofa_error_is_one_line_and_its_class_code(cls, monkeypatch):
    monkeypatch.setitem(DEBUG, "on", False)
    result = CliRunner().invoke(_app_raising(cls("the file x.yaml: fix it")), ["boom"])
    assert result.exit_code == cls.exit_code
    assert "error: the file x.yaml: fix it" in result.output and "Traceback" not in result.output


def test_a_bug_is_exit_1_with_a_hint_and_debug_shows_the_exception(monkeypatch):
    monkeypatch.setitem(DEBUG, "on", False)
    result = CliRunner().invoke(_app_raising(KeyError("oops")), ["boom"])
    assert result.exit_code == 1 and "internal error: KeyError" in result.output and "--debug" in result.output
    monkeypatch.setitem(DEBUG, "on", True)
    debug = CliRunner().invoke(_app_raising(KeyError("oops")), ["boom"])
    assert isinstance(debug.exception, KeyError)
    debug = CliRunner().invoke(_app_raising(DataError("bad image")), ["boom"])
    assert isinstance(debug.exception, DataError) and isinstance(debug.exception, OFAError)


def test_the_debug_flag_of_the_real_cli(tmp_path, monkeypatch):
    monkeypatch.setitem(DEBUG, "on", False)
    missing = str(tmp_path / "nope.json")
    plain = CliRunner().invoke(app, ["space", "show", missing])
    assert plain.exit_code == ConfigError.exit_code and "Traceback" not in plain.output
    debug = CliRunner().invoke(app, ["--debug", "space", "show", missing])
    assert isinstance(debug.exception, ConfigError)
    monkeypatch.setitem(DEBUG, "on", False)


def test_usage_errors_keep_click_code_2():
    assert CliRunner().invoke(app, ["space", "show", "--no-such-option"]).exit_code == 2


def test_a_missing_command_plugin_is_an_error(monkeypatch):
    from ofa.cli import main

    monkeypatch.setattr(main, "_PLUGINS", ("ofa.no_such_plugin_cli",))
    with pytest.raises(ModuleNotFoundError, match="ofa.no_such_plugin_cli"):
        main._register_plugins()
