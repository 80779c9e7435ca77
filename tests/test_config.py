from __future__ import annotations

import os
from pathlib import Path

import pytest

from structr_appsync.config import find_config, load_config, resolve_password, resolve_user
from structr_appsync.errors import ConfigError

GOOD = """
export_dir = "webapp"
default_env = "dev"

[env.dev]
url = "http://localhost:8082/"
user = "admin"
password_env = "MY_PW"
transfer = "zip"

[env.prod]
url = "https://structr.example.com"
password_file = "{pwfile}"
transfer = "path"
protected = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "appsync.toml"
    path.write_text(text)
    return path


def test_valid_config_loads_and_normalizes_url(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.format(pwfile=tmp_path / "pw"))
    loaded = load_config(path)
    assert loaded.settings.env["dev"].url == "http://localhost:8082"
    assert loaded.env_name(None) == "dev"
    assert loaded.environment("prod")[1].protected is True
    assert loaded.export_path == tmp_path / "webapp"


def test_config_found_upward_from_subdirectory(tmp_path: Path) -> None:
    write(tmp_path, GOOD.format(pwfile="x"))
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_config(sub) == (tmp_path / "appsync.toml").resolve()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('export_dir = "webapp"\nbogus = 1\n', "bogus: unknown key"),
        ('[env.dev]\nurl = "http://x"\ntransfr = "zip"\n', "env.dev.transfr: unknown key"),
        ('[env.dev]\nurl = "http://x"\ntransfer = "ftp"\n', "env.dev.transfer"),
        ('[env.dev]\nurl = "localhost:8082"\n', "env.dev.url"),
        ('[env.dev]\nurl = "http://admin:pw@x"\n', "must not contain credentials"),
        ('default_env = "prod"\n[env.dev]\nurl = "http://x"\n', "default_env 'prod'"),
        ('export_dir = "../outside"\n', "export_dir"),
        ("export_dir = [\n", "not valid TOML"),
        ('[env.dev]\nurl = "http://x"\n[env.dev.timeouts]\nconnect = -1\n', "env.dev.timeouts.connect"),
    ],
)
def test_invalid_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_unknown_env_is_refused(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, GOOD.format(pwfile="x")))
    with pytest.raises(ConfigError, match=r"no \[env.staging\] table"):
        loaded.env_name("staging")


def test_password_from_environment_and_default_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_config(write(tmp_path, GOOD.format(pwfile="x")))
    env = loaded.settings.env["dev"]
    with pytest.raises(ConfigError, match="MY_PW"):
        resolve_password(env, "dev")
    monkeypatch.setenv("MY_PW", "s3cret")
    assert resolve_password(env, "dev") == "s3cret"


def test_password_file_must_be_private(tmp_path: Path) -> None:
    pwfile = tmp_path / "pw"
    pwfile.write_text("filepw\n")
    os.chmod(pwfile, 0o644)
    loaded = load_config(write(tmp_path, GOOD.format(pwfile=pwfile)))
    env = loaded.settings.env["prod"]
    with pytest.raises(ConfigError, match="readable by others"):
        resolve_password(env, "prod")
    os.chmod(pwfile, 0o600)
    assert resolve_password(env, "prod") == "filepw"


def test_user_defaults_to_environment_then_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_config(write(tmp_path, GOOD.format(pwfile="x")))
    prod = loaded.settings.env["prod"]
    assert resolve_user(prod) == "admin"
    monkeypatch.setenv("APPSYNC_USER", "deployer")
    assert resolve_user(prod) == "deployer"


def test_config_errors_are_in_appsyncs_words_with_did_you_mean(tmp_path: Path) -> None:
    path = tmp_path / "appsync.toml"
    path.write_text(
        'default_env = 3\n[env.dev]\nurl = "http://x"\ntransfr = "zip"\n[env.dev.timeouts]\ndeploy = "soon"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "env.dev.transfr: unknown key (did you mean 'transfer'?)" in text
    assert "env.dev.timeouts.deploy: must be a number" in text
    assert "default_env: must be a string in quotes" in text
    assert "Input should" not in text and "Value error" not in text


def test_backup_commands_default_to_the_env_that_has_a_backup_table(tmp_path: Path) -> None:
    from structr_appsync.backup.context import load_context

    path = tmp_path / "appsync.toml"
    path.write_text(
        'default_env = "dev"\n[env.dev]\nurl = "http://dev"\n[env.prod]\nurl = "http://prod"\n'
        '[env.prod.backup]\ndestination = "b"\nneo4j_data = "n"\nstructr_dir = "s"\nservice_manager = "systemd"\n'
    )
    loaded = load_config(path)
    assert load_context(loaded, None).env_name == "prod"
    with pytest.raises(ConfigError, match=r"no \[env.dev.backup\] table"):
        load_context(loaded, "dev")  # an explicit --env is still obeyed
