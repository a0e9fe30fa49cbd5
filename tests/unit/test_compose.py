"""docker-compose.yml: valid against the Compose specification's JSON schema (as shipped by
check-jsonschema), configured only from .env as .env.example describes, and wired as the
plan says: the seeder runs once the database is healthy and the bucket exists.

No container engine runs here; tests/func/demo/test_compose_seeder.py runs the seeder's
command with this file's environment against the test servers."""

from __future__ import annotations

import copy
import json
import shlex
from importlib import resources
from typing import Any

import jsonschema
import pytest

from seedctl.store.settings import read_env_file
from tests.helpers import COMPOSE, REPO, SEEDER, compose_file, interpolate, seeder, variables


def compose_schema() -> dict[str, Any]:
    schema = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    return json.loads(schema.read_text(encoding="utf-8"))


def test_the_file_is_valid_compose() -> None:
    jsonschema.validate(compose_file(), compose_schema())


def test_the_validator_catches_a_wrong_file() -> None:
    broken = copy.deepcopy(compose_file())
    broken["services"][SEEDER]["depends_on"]["timescaledb"]["condition"] = "service_ready"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())
    broken = copy.deepcopy(compose_file())
    broken["services"][SEEDER]["depend_on"] = broken["services"][SEEDER].pop("depends_on")  # a typo
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())


def test_every_setting_comes_from_env_as_env_example_documents() -> None:
    example = read_env_file(REPO / ".env.example")
    assert variables() <= set(example)  # nothing the operator could not find in .env.example
    resolved = interpolate(compose_file(), example)
    jsonschema.validate(resolved, compose_schema())
    db = resolved["services"]["timescaledb"]["environment"]
    assert (db["POSTGRES_USER"], db["POSTGRES_PASSWORD"], db["POSTGRES_DB"]) == (
        example["PGUSER"],
        example["PGPASSWORD"],
        example["PGDATABASE"],
    )
    assert resolved["services"]["minio"]["environment"]["MINIO_ROOT_USER"] == example["MINIO_ACCESS_KEY"]
    assert "change-me" not in COMPOSE.read_text(encoding="utf-8")  # no secret written in the file

    # A missing password or key stops `docker compose` with the variable's name.
    for required in ("PGPASSWORD", "MINIO_SECRET_KEY"):
        partial = {k: v for k, v in example.items() if k != required}
        with pytest.raises(KeyError, match=required):
            interpolate(compose_file(), partial)


def test_the_seeder_runs_once_the_database_is_healthy_and_the_bucket_exists() -> None:
    services = compose_file()["services"]
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb:")
    assert services["timescaledb"]["image"].endswith("-pg15")  # the PostgreSQL seedctl is tested with
    assert "healthcheck" in services["timescaledb"] and "healthcheck" in services["minio"]
    assert services[SEEDER]["depends_on"] == {
        "timescaledb": {"condition": "service_healthy"},
        "minio-init": {"condition": "service_completed_successfully"},
    }
    assert services["minio-init"]["depends_on"] == {"minio": {"condition": "service_healthy"}}
    assert services["minio-init"]["image"].startswith("minio/mc:")
    init = interpolate(services["minio-init"], {**read_env_file(REPO / ".env.example"), "MINIO_BUCKET": "seeds"})
    assert 'mc mb --ignore-existing "seedctl/$MINIO_BUCKET"' in init["command"][0]
    assert init["environment"]["MINIO_BUCKET"] == "seeds"
    assert services[SEEDER]["restart"] == "no"  # a one-shot job

    env, command, workdir = seeder(read_env_file(REPO / ".env.example"))
    assert command[1:] == ["scripts/init/04-seed-from-minio.py", "--path", workdir, "--wait", "120"]
    assert (REPO / command[1]).is_file()
    assert env["PGHOST"] == "timescaledb" and env["MINIO_ENDPOINT"] == "minio:9000"  # the service names
    assert {"PGUSER", "PGPASSWORD", "PGDATABASE", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_BUCKET"} <= set(env)
    lock = shlex.split(services[SEEDER]["command"][-1])
    assert "--require-hashes" in lock and "requirements.lock" in lock  # the pinned dependencies
