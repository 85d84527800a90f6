"""Importing the settings writes nothing; the entry points make the development keys and folders."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

# Every way a write could happen, recorded instead of done.
RECORD_WRITES = """
import builtins, os, pathlib, sys
writes = []
real_open, real_mkdir = builtins.open, os.mkdir
def open_(file, mode="r", *args, **kwargs):
    if any(flag in mode for flag in "wax+"):
        writes.append(f"open {file} {mode}")
    return real_open(file, mode, *args, **kwargs)
def mkdir_(path, *args, **kwargs):
    writes.append(f"mkdir {path}")
    return real_mkdir(path, *args, **kwargs)
builtins.open, os.mkdir = open_, mkdir_
pathlib.Path.write_text = lambda self, *a, **k: writes.append(f"write {self}")
"""


def _fresh_machine_env(var_dir: Path) -> dict:
    """This environment without the keys, and an empty VAR_DIR: as on a machine never set up."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEY"}
    }
    env["VAR_DIR"] = str(var_dir)
    return env


def _python(code: str, var_dir: Path) -> subprocess.CompletedProcess:
    env = _fresh_machine_env(var_dir) | {"DJANGO_SETTINGS_MODULE": "governance.settings"}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_importing_the_settings_on_a_fresh_machine_writes_no_file_and_no_folder(tmp_path):
    var_dir = tmp_path / "var"
    result = _python(RECORD_WRITES + "import governance.settings\nprint(writes)", var_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert not var_dir.exists()


def test_a_management_command_on_a_fresh_machine_finds_its_keys_made_by_manage_py(tmp_path):
    var_dir = tmp_path / "var"
    code = (
        "from django.conf import settings; "
        "print('keys:', settings.SECRET_KEY, *settings.FIELD_ENCRYPTION_KEYS)"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=BASE_DIR,
        env=_fresh_machine_env(var_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    keys = [line for line in result.stdout.splitlines() if line.startswith("keys:")]
    assert keys == [
        f"keys: {(var_dir / 'secret_key.txt').read_text()} "
        f"{(var_dir / 'field_encryption_key.txt').read_text()}"
    ]
    assert (var_dir / "field_encryption_key.txt").stat().st_mode & 0o077 == 0
    assert (var_dir / "broker" / "queue").is_dir() and (var_dir / "broker" / "control").is_dir()


def test_keys_set_in_the_environment_are_used_and_nothing_is_generated_for_them(tmp_path):
    var_dir = tmp_path / "var"
    code = (
        "import os; os.environ.update(SECRET_KEY='s' * 60, FIELD_ENCRYPTION_KEY='k1,k2')\n"
        "from governance.platform import localfiles; localfiles.ensure_secrets()\n"
        "from django.conf import settings\n"
        "print(settings.SECRET_KEY == 's' * 60, settings.FIELD_ENCRYPTION_KEYS)"
    )
    result = _python(code, var_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True ['k1', 'k2']"
    assert not var_dir.exists()
