import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _django(args: list[str], **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_database_url_gives_a_clear_error():
    result = _django(["check"], DATABASE_URL="mysqlish://nope", DEBUG="true")
    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "postgres://" in result.stderr


def test_secret_key_is_required_in_production():
    result = _django(["check"], DEBUG="false", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_is_clean_under_production_variables():
    result = _django(
        ["check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="example.com",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_security_switches_can_be_turned_off_for_a_plain_http_intranet():
    result = _django(
        [
            "shell",
            "-v",
            "0",
            "-c",
            "from django.conf import settings; print(settings.SECURE_SSL_REDIRECT)",
        ],
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="intranet",
        SECURE_SSL_REDIRECT="false",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_local_runs_generate_and_keep_a_secret_key(tmp_path):
    env = {"DEBUG": "true", "VAR_DIR": str(tmp_path)}
    cmd = ["shell", "-v", "0", "-c", "from django.conf import settings; print(settings.SECRET_KEY)"]
    first, second = _django(cmd, **env), _django(cmd, **env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert (tmp_path / "secret_key").read_text().strip() == first.stdout.strip()


def test_empty_variables_mean_unset_as_docker_compose_passes_them():
    """Compose hands every variable over as ${NAME:-}: an empty one must fall back to the
    default, not turn the HTTPS redirect off or crash an int setting."""
    result = _django(
        [
            "shell",
            "-v",
            "0",
            "-c",
            "from django.conf import settings as s; "
            "print(s.SECURE_SSL_REDIRECT, s.CONTACT_IMPORT_MAX_MB)",
        ],
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="example.com",
        SECURE_SSL_REDIRECT="",
        CONTACT_IMPORT_MAX_MB="",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "200"]
