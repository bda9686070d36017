"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked."""

from __future__ import annotations

import re

import yaml

from config import PROJECT_ROOT, Settings

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_stack_has_every_part() -> None:
    assert set(SERVICES) == {
        "postgres",
        "temporal-admin-tools",
        "temporal",
        "temporal-create-namespace",
        "temporal-ui",
        "mailpit",
        "migrate",
        "api",
        "worker",
    }


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        if "build" in service:
            continue
        image = service["image"]
        repository, _, tag = image.partition(":")
        assert tag and tag != "latest", f"{name}: {image} is not pinned"
        assert re.match(r"v?\d+\.\d+", tag), f"{name}: {image} has no version tag"
    temporal_images = [s["image"] for s in SERVICES.values() if "temporalio/" in s.get("image", "")]
    assert len(temporal_images) == 4


def test_long_running_services_have_healthchecks() -> None:
    for name in ("postgres", "temporal", "mailpit", "api"):
        assert SERVICES[name]["healthcheck"]["test"], name


def test_start_order_uses_conditions() -> None:
    conditions = {
        (name, dependency): spec["condition"]
        for name, service in SERVICES.items()
        for dependency, spec in service.get("depends_on", {}).items()
    }
    assert conditions[("temporal-admin-tools", "postgres")] == "service_healthy"
    assert conditions[("temporal", "temporal-admin-tools")] == "service_completed_successfully"
    assert conditions[("temporal-create-namespace", "temporal")] == "service_healthy"
    assert conditions[("migrate", "postgres")] == "service_healthy"
    for app in ("api", "worker"):
        assert conditions[(app, "migrate")] == "service_completed_successfully"
        assert conditions[(app, "temporal-create-namespace")] == "service_completed_successfully"
    assert SERVICES["temporal-ui"]["ports"] == ["8080:8080"]
    assert "8025:8025" in SERVICES["mailpit"]["ports"]


def test_app_environment_maps_onto_settings() -> None:
    fields = set(Settings.model_fields)
    for name in ("migrate", "api", "worker"):
        env = SERVICES[name]["environment"]
        assert env["FAKTURA_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["FAKTURA_SMTP_HOST"] == "mailpit"
        for variable in env:
            assert variable.startswith("FAKTURA_")
            assert variable.removeprefix("FAKTURA_").lower() in fields, variable
        assert Settings(_env_file=None, database_url=env["FAKTURA_DATABASE_URL"]).database_url


def test_worker_scales_and_images_install_this_package() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale worker=N works
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.search(r"pip install .*--constraint constraints.txt \.", dockerfile)
    assert SERVICES["api"]["build"] == SERVICES["worker"]["build"] == "."


def test_search_attributes_match_the_dev_server() -> None:
    from workflows.search_attributes import ALL

    script = (PROJECT_ROOT / "deploy/temporal/create-namespace.sh").read_text()
    for key in ALL:
        assert f"--name {key.name} " in script
