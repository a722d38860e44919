"""The systemd units pass `systemd-analyze verify` (systemd 252 works offline in this container),
with /opt/concerto/.venv rewritten to this checkout's virtualenv so that the ExecStart binaries are
checked for real; then the policy (user, env file, restart, hardening) is checked key by key."""

import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from tests.deploy.conftest import PRODUCTION

ROOT = PRODUCTION.parents[1]
UNITS = PRODUCTION / "systemd"
UNIT_FILES = ("concerto-web.service", "concerto-worker@.service", "concerto-beat.service")


def _parse(path: Path) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            continue
        assert current is not None, f"{path.name}: key outside a section: {line}"
        key, _, value = line.partition("=")
        sections[current][key.strip()].append(value.strip())
    return sections


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (Debian package: systemd)")
    names = []
    for name in UNIT_FILES:
        text = (UNITS / name).read_text().replace("/opt/concerto/.venv", str(ROOT / ".venv"))
        # A template is verified through an instance.
        target = name.replace("@.", "@media.")
        (tmp_path / target).write_text(text)
        names.append(f"./{target}")
    result = subprocess.run([analyze, "verify", *names], cwd=tmp_path, capture_output=True, text=True)
    # verify exits 0 on unknown keys but warns: any output is a failure.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_imports_tiles_instance_with_its_drop_in_passes_verify(tmp_path: Path) -> None:
    """The drop-in is read (SYSTEMD_UNIT_PATH) and checked with the instance it configures."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (Debian package: systemd)")
    text = (
        (UNITS / "concerto-worker@.service").read_text().replace("/opt/concerto/.venv", str(ROOT / ".venv"))
    )
    instance = "concerto-worker@imports_tiles.service"
    (tmp_path / instance).write_text(text)
    shutil.copytree(UNITS / f"{instance}.d", tmp_path / f"{instance}.d")
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"}
    result = subprocess.run(
        [analyze, "verify", f"./{instance}"], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@pytest.mark.parametrize("name", UNIT_FILES)
def test_unit_policy(name: str) -> None:
    unit = _parse(UNITS / name)
    service = unit["Service"]
    assert service["User"] == ["concerto"] and service["Group"] == ["concerto"]
    assert "/etc/concerto/concerto.env" in service["EnvironmentFile"]
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in service["Environment"]
    assert service["Restart"] == ["on-failure"]
    assert service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"]
    assert service["PrivateTmp"] == ["yes"]
    assert all(p.startswith("/var/lib/concerto") for p in service["ReadWritePaths"])
    (exec_start,) = service["ExecStart"]
    binary = exec_start.split()[0]
    assert binary.startswith("/opt/concerto/.venv/bin/")
    assert (ROOT / ".venv" / "bin" / Path(binary).name).exists()
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_queues_and_entry_points() -> None:
    web = _parse(UNITS / "concerto-web.service")["Service"]["ExecStart"][0]
    assert "gunicorn -c /opt/concerto/deploy/production/gunicorn.conf.py config.wsgi" in web
    worker = _parse(UNITS / "concerto-worker@.service")["Service"]["ExecStart"][0]
    assert "celery -A config worker" in worker and "-Q %i" in worker
    assert "--concurrency=${CELERY_WORKER_CONCURRENCY}" in worker
    assert "--max-tasks-per-child=${CELERY_WORKER_MAX_TASKS_PER_CHILD}" in worker
    # The imports_tiles instance's drop-in: one task at a time, a fresh process every few (GDAL).
    drop_in = _parse(UNITS / "concerto-worker@imports_tiles.service.d" / "queue.conf")
    assert set(drop_in) == {"Service"} and set(drop_in["Service"]) == {"Environment"}
    assert drop_in["Service"]["Environment"] == [
        "CELERY_WORKER_CONCURRENCY=1",
        "CELERY_WORKER_MAX_TASKS_PER_CHILD=10",
    ]
    beat = _parse(UNITS / "concerto-beat.service")["Service"]["ExecStart"][0]
    assert "celery -A config beat" in beat and "/var/lib/concerto/celery/" in beat
