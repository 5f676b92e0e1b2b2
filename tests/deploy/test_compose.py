"""docker-compose.yml is checked by parsing it (no Docker engine on the CI machine)."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_services_healthchecks_and_dependencies() -> None:
    services = _compose()["services"]
    assert {"db", "app", "app-gpu"} <= set(services)
    assert services["db"]["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    for name in ("app", "app-gpu"):
        app = services[name]
        assert app["depends_on"]["db"]["condition"] == "service_healthy"
        probe = " ".join(app["healthcheck"]["test"])
        assert "/api/v1/ready" in probe
        assert app["build"]["context"] == "."


def test_app_environment_points_at_postgres_and_requires_secrets() -> None:
    services = _compose()["services"]
    env = services["app"]["environment"]
    assert env["QTLENS_DATABASE_URL"].startswith("postgresql+psycopg://qtlens:")
    assert "@db:5432/qtlens" in env["QTLENS_DATABASE_URL"]
    assert env["QTLENS_SECRET_KEY"].startswith("${QTLENS_SECRET_KEY:?")
    assert env["QTLENS_AUDIT_KEY"].startswith("${QTLENS_AUDIT_KEY:?")
    checkpoints = env["QTLENS_AUDIT_CHECKPOINT_FILE"]
    assert any(checkpoints.startswith(volume.split(":")[1] + "/")
               for volume in services["app"]["volumes"])  # survives a container rebuild
    assert services["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_gpu_reservation_is_optional() -> None:
    services = _compose()["services"]
    assert "deploy" not in services["app"]
    gpu = services["app-gpu"]
    assert gpu["profiles"] == ["gpu"]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert gpu["environment"]["QTLENS_DEVICE"] == "cuda"
    assert gpu["environment"]["QTLENS_DATABASE_URL"] == services["app"]["environment"][
        "QTLENS_DATABASE_URL"]


def test_dockerfile_installs_cpu_torch_first_and_runs_unprivileged() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert dockerfile.index("torch==$TORCH_VERSION") < dockerfile.index("pip install -c constraints.txt")
    assert "USER qtlens" in dockerfile
