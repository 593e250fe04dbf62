"""docker-compose.yml, checked the only way this machine can: `docker-compose config`."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="apt install docker-compose")
def test_compose_config_is_valid_on_a_fresh_clone_without_env_file(tmp_path):
    for name in ("docker-compose.yml", ".env.example"):
        shutil.copy(ROOT / name, tmp_path / name)
    result = subprocess.run(
        ["docker-compose", "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert set(config["services"]) == {"postgres", "redis", "web", "worker", "beat"}
    assert config["services"]["postgres"]["image"] == "postgres:16"
    assert config["services"]["redis"]["image"] == "redis:7"
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert config["services"][name]["healthcheck"]["test"]
    web = config["services"]["web"]["environment"]
    assert web["DATABASE_URL"].endswith("@postgres:5432/linecampaigns")
    assert web["SECRET_KEY"] == ""  # unset: the app refuses to start without one


@pytest.mark.skipif(not shutil.which("docker-compose"), reason="apt install docker-compose")
def test_compose_takes_the_settings_from_env(tmp_path):
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("SECRET_KEY=s3cret-value\nALLOWED_HOSTS=example.com\n")
    result = subprocess.run(
        ["docker-compose", "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    env = yaml.safe_load(result.stdout)["services"]["worker"]["environment"]
    assert (env["SECRET_KEY"], env["ALLOWED_HOSTS"]) == ("s3cret-value", "example.com")


def test_every_setting_in_env_example_reaches_the_containers():
    compose = (ROOT / "docker-compose.yml").read_text()
    local_only = {"PORT", "EMULATOR_PORT", "DEMO", "POSTGRES_PASSWORD"}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            name = line.split("=", 1)[0]
            if name not in local_only:
                assert f"{name}: ${{{name}:-}}" in compose, name
