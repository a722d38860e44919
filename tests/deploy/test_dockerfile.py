"""The application image's Dockerfile, read with a real parser (`dockerfile-parse`), checked against
the repository (COPY sources, .dockerignore, deploy/install-system.sh, the lock, gunicorn.conf.py) and
against the compose file and Kubernetes manifests that run it. Building it for real needs a container
engine: deploy/production/image-check.sh (make image-check)."""

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from dockerfile_parse import DockerfileParser

from tests.deploy.conftest import PRODUCTION

ROOT = PRODUCTION.parents[1]
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
VENV_BIN = "/opt/concerto/.venv/bin/"
APP_DIR = "/opt/concerto"

# Debian release -> its python3 (what `apt-get install python3` gives in debian:<release>-slim).
DEBIAN_PYTHON = {"bookworm": (3, 11), "trixie": (3, 13), "forky": (3, 13)}
# deploy/install-system.sh's packages, by where they belong in the image.
RUNTIME_LIBS = {"gdal-bin"}  # GDAL/GEOS/PROJ, loaded by GeoDjango through ctypes
BUILD_TOOLS = {"gettext"}  # msgfmt, for compilemessages
SERVICES = {
    "redis-server",
    "nginx-light",
    "pgbouncer",
    "postgresql",
    "postgresql-contrib",
    "chromium",
}  # other containers
# What the image adds, beyond install-system.sh (a machine has them already).
IMAGE_ONLY = {"python3", "python3-venv", "ca-certificates", "tzdata"}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|DSN|PRIVATE_KEY|ACCESS_KEY|API_KEY", re.IGNORECASE)


# --- parsing helpers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parser() -> DockerfileParser:
    return DockerfileParser(path=str(DOCKERFILE))


@pytest.fixture(scope="module")
def stages(parser: DockerfileParser) -> dict[str, list[dict]]:
    """Instructions by stage name (FROM ... AS name), in order; comments dropped."""
    result: dict[str, list[dict]] = {}
    current: list[dict] | None = None
    for item in parser.structure:
        if item["instruction"] == "FROM":
            words = item["value"].split()
            assert len(words) == 3 and words[1].upper() == "AS", f"unnamed stage: FROM {item['value']}"
            current = result.setdefault(words[2], [])
        elif item["instruction"] != "COMMENT":
            assert current is not None or item["instruction"] == "ARG", f"{item['instruction']} before FROM"
            if current is not None:
                current.append(item)
    return result


def _of(stage: list[dict], instruction: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == instruction]


def _flags_and_args(value: str) -> tuple[dict[str, str], list[str]]:
    words = shlex.split(value)
    flags = dict(w[2:].split("=", 1) for w in words if w.startswith("--"))
    return flags, [w for w in words if not w.startswith("--")]


def _apt_packages(stage: list[dict]) -> set[str]:
    packages: set[str] = set()
    for run in _of(stage, "RUN"):
        for command in run.split("&&"):
            words = shlex.split(command)
            if words[:2] == ["apt-get", "install"]:
                assert "--no-install-recommends" in words, (
                    f"apt-get install without --no-install-recommends: {command}"
                )
                packages |= {w for w in words[2:] if not w.startswith("-")}
                assert "rm -rf /var/lib/apt/lists/*" in run, "apt lists left in the layer"
    return packages


def _port(bind: str) -> int:
    return int(bind.rsplit(":", 1)[1])


def _dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """Docker's rules (moby/patternmatcher): one pattern per line, # comments, leading / dropped,
    `**` any number of directories, `*` and `?` within one path segment, `!` re-includes; the last
    matching pattern wins; a pattern that matches a directory excludes what it contains."""
    patterns = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        patterns.append((negate, re.compile(regex + r"\Z")))
    return patterns


def _ignored(relpath: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = Path(relpath).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for negate, regex in patterns:
        if any(regex.match(c) for c in candidates):
            ignored = not negate
    return ignored


def _compose() -> dict:
    return yaml.safe_load((PRODUCTION / "compose.yaml").read_text())


def _app_services() -> dict[str, dict]:
    return {n: s for n, s in _compose()["services"].items() if s["image"].startswith("${CONCERTO_IMAGE")}


def _pod_specs() -> list[dict]:
    specs = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "containers" in node and isinstance(node["containers"], list):
                specs.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((PRODUCTION / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            walk(doc)
    return specs


def _k8s_app_containers() -> list[tuple[dict, dict]]:
    """(pod spec, container) for every container of the application image."""
    return [
        (spec, c)
        for spec in _pod_specs()
        for c in spec["containers"] + spec.get("initContainers", [])
        if re.fullmatch(r"(?:[\w.-]+(?::\d+)?/)?concerto:[\w.-]+", c["image"])
    ]


def _lock_names() -> set[str]:
    return {
        re.split(r"[\[=]", line)[0].lower()
        for line in RUNTIME_LOCK.read_text().splitlines()
        if re.match(r"^[A-Za-z0-9]", line)
    }


# --- base image and stages --------------------------------------------------------------------------


def test_base_image_is_a_pinned_debian_slim_argument(parser: DockerfileParser, stages: dict) -> None:
    first_from = next(i for i in parser.structure if i["instruction"] == "FROM")
    args = [
        i["value"]
        for i in parser.structure
        if i["instruction"] == "ARG" and i["startline"] < first_from["startline"]
    ]
    defaults = dict(a.split("=", 1) for a in args if "=" in a)
    base = defaults["BASE_IMAGE"]
    match = re.fullmatch(r"debian:(\w+)-slim", base)
    assert match, f"BASE_IMAGE default {base!r} is not debian:<release>-slim"
    assert match.group(1) in DEBIAN_PYTHON
    assert ":latest" not in base
    # Both stages start from the argument (so --build-arg BASE_IMAGE=... swaps the whole image).
    froms = [i["value"].split()[0] for i in parser.structure if i["instruction"] == "FROM"]
    assert froms == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert list(stages) == ["build", "runtime"]
    assert parser.parent_images == [base, base]


def test_base_python_satisfies_requires_python(parser: DockerfileParser) -> None:
    """Django 6 needs 3.12 (docs/adr/0001-python-version.md): Debian 12's python3 (3.11) cannot run it."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = tuple(int(x) for x in re.fullmatch(r">=(\d+)\.(\d+)", requires).groups())
    release = re.fullmatch(r"debian:(\w+)-slim", parser.parent_images[0]).group(1)
    assert DEBIAN_PYTHON[release] >= minimum, f"debian {release} has Python {DEBIAN_PYTHON[release]}"
    # And the build refuses an overridden base whose python3 is too old, with the same minimum.
    assert f"sys.version_info; sys.exit(0 if v >= {minimum}" in DOCKERFILE.read_text().replace("\n", " ")


def test_no_add_and_no_remote_sources(parser: DockerfileParser) -> None:
    for item in parser.structure:
        assert item["instruction"] != "ADD", (
            f"line {item['startline'] + 1}: use COPY (ADD fetches URLs, unpacks archives)"
        )
        if item["instruction"] == "RUN":
            assert not re.search(r"\b(curl|wget)\b", item["value"]), (
                "downloads outside apt and pip (the lock)"
            )


# --- what goes into the image -----------------------------------------------------------------------


def test_copy_sources_exist_and_are_not_dockerignored(stages: dict) -> None:
    patterns = _dockerignore_patterns()
    copies = [(name, value) for name, stage in stages.items() for value in _of(stage, "COPY")]
    assert copies
    for name, value in copies:
        flags, args = _flags_and_args(value)
        if "from" in flags:
            assert flags["from"] in stages, f"COPY --from={flags['from']}: no such stage"
            continue
        for source in args[:-1]:
            assert (ROOT / source).exists(), f"{name}: COPY {source}: not in the repository"
            assert not _ignored(source, patterns), f"{name}: COPY {source} is excluded by .dockerignore"
            assert not re.search(r"\.env$|\.pem$|\.key$", source)


def test_dockerignore_keeps_the_context_small_and_clean() -> None:
    patterns = _dockerignore_patterns()
    # The matcher itself: directories, their content, globs, and what must stay.
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "var/static/x.css",
        "node_modules/leaflet/package.json",
        "media/a.jpg",
        "tests/deploy/test_dockerfile.py",
        "geo/__pycache__/models.cpython-313.pyc",
        "deploy/production/concerto.env",
        "locale/en/LC_MESSAGES/django.mo",
    ):
        assert _ignored(path, patterns), f"{path} would be sent to the builder"
    for path in (
        "geo/models.py",
        "locale/en/LC_MESSAGES/django.po",
        "static/vendor/leaflet/leaflet.js",
        "deploy/production/gunicorn.conf.py",
        "requirements/runtime.txt",
        "manage.py",
    ):
        assert not _ignored(path, patterns), f"{path} is excluded"
    # The real context, as a builder would send it (excluded directories are not walked).
    size = 0
    for directory, dirnames, filenames in os.walk(ROOT):
        rel = Path(directory).relative_to(ROOT)
        dirnames[:] = [d for d in dirnames if not _ignored(str(rel / d), patterns)]
        for filename in filenames:
            relpath = str(rel / filename)
            if not _ignored(relpath, patterns):
                assert not re.search(r"(^|/)(\.env|[^/]+\.env|[^/]+\.pem|[^/]+\.key)$", relpath), relpath
                size += (ROOT / relpath).stat().st_size
    assert size < 30 * 1024 * 1024, f"build context of {size / 1e6:.0f} MB"


def test_every_local_app_and_runtime_file_is_copied(stages: dict) -> None:
    copied = {_flags_and_args(v)[1][0] for v in _of(stages["build"], "COPY")}
    local = {app.split(".")[0] for app in settings.INSTALLED_APPS if (ROOT / app.split(".")[0]).is_dir()}
    assert local, "no local app found"
    # The settings' own package, the entry point, translations, vendored assets, gunicorn's configuration.
    needed = local | {"config", "manage.py", "locale", "static", "deploy/production/gunicorn.conf.py"}
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
    assert not copied & {"tests", "bench", "docs", ".venv", "var"}
    # The runtime stage takes the built tree (venv, code, .mo files) and the collected static files.
    runtime = [_flags_and_args(v) for v in _of(stages["runtime"], "COPY")]
    assert all(flags.get("from") == "build" for flags, _ in runtime), (
        "runtime copies from outside the build stage"
    )
    assert [APP_DIR, APP_DIR] in [args for _, args in runtime]


def test_static_assets_are_vendored_not_built() -> None:
    """No node stage: deploy/vendor-static.sh's packages are committed under static/vendor/ at the
    versions package-lock.json pins."""
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    script = (ROOT / "deploy" / "vendor-static.sh").read_text()
    vendored = re.findall(r"^copy (\S+)", script, re.MULTILINE)
    assert vendored
    for package in vendored:
        version = (ROOT / "static" / "vendor" / package / "VERSION").read_text().strip()
        assert version == lock[f"node_modules/{package}"]["version"], f"static/vendor/{package} is stale"


def test_apt_packages_agree_with_install_system(stages: dict) -> None:
    script = (ROOT / "deploy" / "install-system.sh").read_text()
    system = set(re.search(r"for p in ([^;]+); do pkg_installed", script).group(1).split())
    system |= set(re.search(r"missing\+=\(([^)]+)\)", script).group(1).split())
    # Every package of install-system.sh has a place: a new one there forces a decision here.
    assert system <= RUNTIME_LIBS | BUILD_TOOLS | SERVICES, (
        f"unclassified: {system - RUNTIME_LIBS - BUILD_TOOLS - SERVICES}"
    )
    assert system >= RUNTIME_LIBS | BUILD_TOOLS
    build, runtime = _apt_packages(stages["build"]), _apt_packages(stages["runtime"])
    assert build >= RUNTIME_LIBS | BUILD_TOOLS
    assert runtime >= RUNTIME_LIBS
    assert not runtime & (BUILD_TOOLS | SERVICES), "build tools or other services in the runtime image"
    assert build - system <= IMAGE_ONLY and runtime - system <= IMAGE_ONLY
    assert "python3" in runtime and "python3-venv" in build
    assert not any(re.match(r"lib.*\d", p) for p in build | runtime), (
        "versioned package names (libgdal32...) break other releases"
    )


def test_python_dependencies_come_from_the_hashed_lock(stages: dict) -> None:
    lock = RUNTIME_LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n\n", 1)[1])
    pinned = [b for b in blocks if re.match(r"[A-Za-z0-9]", b)]
    assert pinned and all("==" in b.split()[0] and "--hash=sha256:" in b for b in pinned), (
        "lock without hashes"
    )
    assert "requirements/runtime.txt requirements/runtime.txt" in _of(stages["build"], "COPY")
    installs = [
        command
        for stage in stages.values()
        for run in _of(stage, "RUN")
        for command in run.split("&&")
        if re.search(r"\bpip3? install\b", command)
    ]
    assert len(installs) == 1, installs
    words = installs[0].split()
    assert "--require-hashes" in words and words[words.index("-r") + 1] == "requirements/runtime.txt"
    assert not [
        w
        for w in words[words.index("install") + 1 :]
        if not w.startswith(("-", "$", '"$')) and w != "requirements/runtime.txt"
    ], f"packages named outside the lock: {installs[0]}"
    # What the image runs is in the lock; the development tools are not.
    assert {"django", "gunicorn", "celery", "rasterio", "psycopg"} <= _lock_names()
    assert not {"pytest", "playwright", "moto", "mypy", "ruff"} & _lock_names()


def test_the_runtime_lock_pins_the_same_versions_as_the_development_lock() -> None:
    # `make lock` compiles runtime.txt with lock.txt as a constraint: the image runs what CI tested.
    def pins(path: Path) -> dict[str, str]:
        found = re.findall(r"^([A-Za-z0-9][\w.-]*)(?:\[[^\]]*\])?==([^\s\\]+)", path.read_text(), re.M)
        return {name.lower(): version for name, version in found}

    runtime, development = pins(RUNTIME_LOCK), pins(ROOT / "requirements" / "lock.txt")
    assert runtime, "empty runtime lock"
    assert {name: version for name, version in runtime.items() if development.get(name) != version} == {}


def test_no_secret_is_baked_in(parser: DockerfileParser, stages: dict) -> None:
    for item in parser.structure:
        if item["instruction"] in ("ENV", "ARG", "LABEL"):
            for word in shlex.split(item["value"]):
                assert not SECRET_NAME.search(word.split("=", 1)[0]), f"{item['instruction']} {word}"
        if item["instruction"] == "RUN":
            assert not SECRET_NAME.search(item["value"]), (
                f"RUN sets a secret-looking variable: {item['value'][:80]}"
            )
    # The build-time management commands use the base settings: production would demand a SECRET_KEY.
    build_runs = " ".join(_of(stages["build"], "RUN"))
    assert "collectstatic" in build_runs and "compilemessages" in build_runs
    assert "config.settings.production" not in build_runs


# --- how it runs ------------------------------------------------------------------------------------


def test_runs_as_the_unprivileged_uid_of_compose_and_kubernetes(stages: dict) -> None:
    users = _of(stages["runtime"], "USER")
    assert len(users) == 1
    uid, gid = users[0].split(":")
    assert uid.isdigit() and int(uid) != 0 and int(gid) != 0
    runtime = stages["runtime"]
    assert runtime.index(next(i for i in runtime if i["instruction"] == "USER")) > max(
        n for n, i in enumerate(runtime) if i["instruction"] in ("RUN", "COPY")
    ), "USER must come after the last RUN/COPY"
    for name, service in _app_services().items():
        assert service["user"] == users[0], name
    for spec, container in _k8s_app_containers():
        security = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
        assert str(security["runAsUser"]) == uid and str(security["runAsGroup"]) == gid, container["name"]
        assert security.get("runAsNonRoot") is True, container["name"]
    # The directories the volumes mount exist, owned by that uid (named volumes copy the ownership).
    created = " ".join(_of(runtime, "RUN"))
    for path in ("static", "media", "private", "celery"):
        assert re.search(rf"install -d -o {uid} -g {gid} [^&]*/var/lib/concerto/{path}\b", created), path


def test_cmd_is_gunicorn_with_the_production_configuration(parser: DockerfileParser, stages: dict) -> None:
    assert not _of(stages["runtime"], "ENTRYPOINT"), "an ENTRYPOINT would wrap compose/k8s commands"
    cmd = json.loads(parser.cmd)  # exec form: signals reach gunicorn, no shell in between
    assert cmd[0] == f"{VENV_BIN}gunicorn" and cmd[1] == "-c"
    config = Path(cmd[2]).relative_to(APP_DIR)
    assert (ROOT / config).is_file()
    assert (ROOT / cmd[3].replace(".", "/")).with_suffix(".py").is_file()
    assert parser.envs["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert (ROOT / "config" / "settings" / "production.py").is_file()
    assert _of(stages["runtime"], "WORKDIR") == [APP_DIR]
    # The web service and the web Deployment run exactly this command.
    assert _app_services()["web"]["command"] == cmd
    web = [c for _, c in _k8s_app_containers() if c["name"] == "web"]
    assert web and all(c["command"] == cmd for c in web)


def test_other_commands_run_from_the_same_image() -> None:
    """Workers, beat and migrate override the command: their executables are in the image's venv
    (from the lock) and they run from the image's WORKDIR."""
    lock = _lock_names()
    commands = [(n, s["command"], s["working_dir"]) for n, s in _app_services().items()]
    commands += [(c["name"], c["command"], c["workingDir"]) for _, c in _k8s_app_containers()]
    assert {n for n, _, _ in commands} >= {"migrate", "web", "worker-notifications", "worker-media", "beat"}
    for name, command, workdir in commands:
        assert workdir == APP_DIR, name
        line = command[2] if command[:2] == ["sh", "-c"] else " ".join(command)
        executables = re.findall(rf"{re.escape(VENV_BIN)}(\w+)", line)
        assert executables and line.startswith(VENV_BIN), f"{name}: {line}"
        for executable in executables:
            assert executable == "python" or executable in lock, f"{name}: {executable} not in the lock"
        if "manage.py" in line:
            assert (ROOT / "manage.py").is_file()


def test_expose_matches_gunicorn_bind(parser: DockerfileParser, stages: dict) -> None:
    exposed = [int(p.split("/")[0]) for v in _of(stages["runtime"], "EXPOSE") for p in v.split()]
    port = _port(parser.envs["GUNICORN_BIND"])
    assert exposed == [port]
    assert parser.envs["GUNICORN_BIND"].startswith("0.0.0.0:"), "a container must listen beyond loopback"
    # gunicorn.conf.py really binds there with the image's environment.
    code = "import runpy; print(runpy.run_path('deploy/production/gunicorn.conf.py')['bind'])"
    env = {**os.environ, "GUNICORN_BIND": parser.envs["GUNICORN_BIND"]}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == repr([parser.envs["GUNICORN_BIND"]])
    web = _app_services()["web"]
    assert _port(web["environment"]["GUNICORN_BIND"]) == port and web["expose"] == [str(port)]
    for _, container in _k8s_app_containers():
        for declared in container.get("ports", []):
            assert declared["containerPort"] == port, container["name"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(_of(stages["runtime"], "HEALTHCHECK"))


def test_healthcheck_probes_healthz_like_compose(stages: dict) -> None:
    (value,) = _of(stages["runtime"], "HEALTHCHECK")
    options, _, command = value.partition("CMD")
    assert re.search(r"--interval=\d+s", options) and re.search(r"--timeout=\d+s", options)
    argv = json.loads(command)
    assert argv[:2] == [f"{VENV_BIN}python", "-c"]
    compile(argv[2], "HEALTHCHECK", "exec")  # valid Python
    for needed in ("/healthz", "X-Forwarded-Proto", "'https'", "ALLOWED_HOSTS"):
        assert needed in argv[2]


def test_image_names_match_the_documented_build_command(parser: DockerfileParser) -> None:
    comments = [i["value"] for i in parser.structure if i["instruction"] == "COMMENT"]
    builds = [c for c in comments if re.match(r"(docker build|buildah bud) ", c)]
    assert builds, "the Dockerfile header documents no build command"
    image = _compose()["x-app"]["image"]
    default = re.fullmatch(r"\$\{CONCERTO_IMAGE:-([^}]+)\}", image).group(1)
    k8s = {c["image"] for _, c in _k8s_app_containers()}
    assert k8s
    # Each documented build command (docker and buildah) tags what compose and Kubernetes run.
    for build in builds:
        tags = set(re.findall(r"-t (\S+)", build))
        assert default in tags, f"compose's default image {default} is not built by: {build}"
        assert k8s <= tags, f"k8s runs {k8s - tags}, not built by: {build}"
    assert not any(t.endswith(":latest") for t in k8s), "Kubernetes must pin a version"
    assert all(s["image"] == image for s in _app_services().values())
    assert f"docker push {next(iter(k8s))}" in comments
