"""Production settings pass Django's deployment checks; the embedded default needs nothing."""

import base64
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A well-formed master key list (the key itself is not a secret of anything).
MASTER_KEYS = "k1:" + base64.urlsafe_b64encode(bytes(range(32))).decode()


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_check_deploy_passes_with_production_variables(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 64 + "-production-secret-for-the-check",
        "ALLOWED_HOSTS": "chat.example.com",
        "DATABASE_URL": "postgres://samia@db.internal:5432/samia",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "FILE_MASTER_KEYS": MASTER_KEYS,
        "SAMIA_VAR_DIR": str(tmp_path),
    }
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_off_without_a_secret_key_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"DEBUG": "0", "ALLOWED_HOSTS": "chat.example.com", "SAMIA_VAR_DIR": str(tmp_path)})
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_embedded_default_needs_no_variables(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"}
    }
    env["SAMIA_VAR_DIR"] = str(tmp_path)
    result = _manage("check", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").exists()


def test_production_logs_are_one_json_object_per_line(tmp_path):
    import json

    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "y" * 64,
        "ALLOWED_HOSTS": "chat.example.com",
        "FILE_MASTER_KEYS": MASTER_KEYS,
        "SAMIA_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "samia_chat.settings",
    }
    code = "import django, logging; django.setup(); logging.getLogger('samia').warning('hi %s', 1)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    record = json.loads(result.stderr.strip().splitlines()[-1])
    assert record["message"] == "hi 1"
    assert record["level"] == "WARNING"


def _production_env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FILE_MASTER_KEYS"}
    env.update(
        {"DEBUG": "0", "SECRET_KEY": "z" * 64, "ALLOWED_HOSTS": "chat.example.com"},
        SAMIA_VAR_DIR=str(tmp_path),
        **extra,
    )
    return env


def test_production_without_file_master_keys_does_not_start(tmp_path):
    result = _manage("check", env=_production_env(tmp_path))
    assert result.returncode != 0
    assert "FILE_MASTER_KEYS must be set" in result.stderr


def test_a_malformed_file_master_key_is_refused(tmp_path):
    short = base64.urlsafe_b64encode(b"short").decode()
    result = _manage("check", env=_production_env(tmp_path, FILE_MASTER_KEYS=f"a:{short}"))
    assert result.returncode != 0
    assert "FILE_MASTER_KEYS entries must be" in result.stderr


def test_the_embedded_default_generates_a_development_file_key_with_a_warning(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"FILE_MASTER_KEYS", "DEBUG"}}
    result = _manage("check", env={**env, "SAMIA_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "FILE_MASTER_KEYS is not set" in result.stderr
    assert len(base64.urlsafe_b64decode((tmp_path / "file_master_key").read_text())) == 32
