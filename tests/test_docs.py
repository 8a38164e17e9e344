"""The README cannot drift: every setting and command is documented, with help text."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from feedsvc import imports
from feedsvc.cli import main as cli_main
from feedsvc.config import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_readme_with_help(setting):
    assert f"`{setting.name}`" in README
    assert setting.help.strip()


def command_paths(app):
    group = app.cli
    for name, command in sorted(group.commands.items()):
        sub = getattr(command, "commands", None)
        if sub:
            for sub_name, sub_command in sorted(sub.items()):
                yield f"{name} {sub_name}", sub_command
        else:
            yield name, command


def test_every_command_is_in_the_readme_with_help(app):
    paths = dict(command_paths(app))
    assert {"db upgrade", "user create", "token create", "demo"} <= set(paths)
    for path, command in paths.items():
        assert f"`feedsvc {path}" in README, path
        assert (command.help or "").strip(), path


def test_run_is_offered(tmp_path, monkeypatch):
    monkeypatch.setenv("FEEDSVC_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(cli_main, ["--help"])
    assert " run " in result.output
    assert "`feedsvc run`" in README


def test_readme_names_the_two_commands():
    assert "scripts/serve" in README
    assert "scripts/test" in README


def test_the_csv_import_is_documented_for_users():
    assert "Import from CSV" in README and "`/items/import`" in README
    assert "Download the template" in README
    assert ",".join(imports.COLUMNS) in README, "the header row, as the template has it"
    assert all(f"`{name}`" in README for name in imports.REQUIRED_COLUMNS)
    assert f"{imports.MAX_ROWS} rows and {imports.MAX_BYTES // 1024} KB" in README
    assert "nothing at all is imported" in README
