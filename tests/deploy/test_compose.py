"""compose.yaml: valid against the Compose spec JSON Schema (vendored, see schemas/README.md),
then structural checks: depends_on targets, volumes, healthchecks, queues, private media."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.deploy.conftest import PRODUCTION

SCHEMA = Path(__file__).parent / "schemas" / "compose_spec.json"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((PRODUCTION / "compose.yaml").read_text())


def test_matches_compose_spec_schema(compose: dict) -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, "\n".join(errors)
    # The validator does reject a wrong key.
    broken = {
        **compose,
        "services": {**compose["services"], "web": {**compose["services"]["web"], "helthcheck": {}}},
    }
    assert not validator.is_valid(broken)


def test_structure(compose: dict) -> None:
    services = compose["services"]
    expected = {
        "postgis",
        "redis",
        "migrate",
        "web",
        "worker-notifications",
        "worker-media",
        "worker-imports",
        "beat",
        "nginx",
    }
    assert expected <= set(services)
    assert services["postgis"]["image"] == "postgis/postgis:15-3.4"
    declared = set(compose["volumes"])
    for name, service in services.items():
        for target in service.get("depends_on", {}):
            assert target in services, f"{name} depends on unknown {target}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith(("/", ".")):
                assert source in declared, f"{name}: volume {source} not declared"
        if name != "migrate":
            assert "healthcheck" in service, f"{name} has no healthcheck"
        if service.get("image", "").startswith("${CONCERTO_IMAGE"):
            assert service["env_file"] == ["./concerto.env"]
    for name in ("web", "worker-notifications", "worker-media", "worker-imports", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert "-Q notifications" in " ".join(services["worker-notifications"]["command"])
    assert "-Q media" in " ".join(services["worker-media"]["command"])
    imports = " ".join(services["worker-imports"]["command"])
    assert "-Q imports_tiles" in imports and "--concurrency=1" in imports
    assert "--max-tasks-per-child=10 " in imports  # GDAL memory: a fresh process every few imports
    assert "imports_tiles@" in " ".join(services["worker-imports"]["healthcheck"]["test"])
    # nginx never sees the private originals.
    assert not any(v.startswith("private:") for v in services["nginx"]["volumes"])
    # The mounted nginx files exist.
    for volume in services["nginx"]["volumes"]:
        source = volume.split(":", 1)[0]
        if source.startswith("./"):
            assert (PRODUCTION / source).is_file(), source
