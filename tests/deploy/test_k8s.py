"""Every Kubernetes manifest validates (strict: unknown fields fail) against the JSON schemas that
the `kubernetes-validate` package bundles, then the deployment rules are checked; the nginx
sidecar's configuration passes the real `nginx -t`."""

import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes_validate import utils as kv

from tests.deploy.conftest import PRODUCTION
from tests.deploy.test_nginx import _nginx

K8S = PRODUCTION / "k8s"
KUBERNETES_VERSION = "1.31.0"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _all() -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for p in MANIFESTS for d in _docs(p)}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_matches_kubernetes_schema(path: Path) -> None:
    for doc in _docs(path):
        kv.validate(doc, KUBERNETES_VERSION, strict=True)
        assert doc["metadata"].get("namespace") == "concerto" or doc["kind"] == "Namespace"


def test_validator_rejects_unknown_fields() -> None:
    deployment = _all()[("Deployment", "concerto-web")]
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_but_the_job_and_the_secret_example() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"migrate-job.yaml", "secret.example.yaml"}


def test_deployment_rules() -> None:
    objects = _all()
    web = objects[("Deployment", "concerto-web")]["spec"]["template"]["spec"]
    gunicorn = next(c for c in web["containers"] if c["name"] == "web")
    for probe in ("readinessProbe", "livenessProbe"):
        assert gunicorn[probe]["httpGet"]["path"] == "/healthz"
    for container in web["containers"] + web["initContainers"]:
        assert container["resources"]["requests"] and container["resources"]["limits"]
    # The nginx sidecar mounts media but never the private originals.
    sidecar = next(c for c in web["containers"] if c["name"] == "nginx")
    assert not any(m["mountPath"].endswith("/private") for m in sidecar["volumeMounts"])

    beat = objects[("Deployment", "concerto-beat")]["spec"]
    assert beat["replicas"] == 1 and beat["strategy"]["type"] == "Recreate"
    assert ("HorizontalPodAutoscaler", "concerto-beat") not in objects

    # A Kubernetes name takes no underscore: the imports_tiles queue's Deployment is imports-tiles.
    for queue in ("notifications", "media", "imports_tiles"):
        name = f"concerto-worker-{queue.replace('_', '-')}"
        worker = objects[("Deployment", name)]
        command = worker["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command[command.index("-Q") + 1] == queue
        hpa = objects[("HorizontalPodAutoscaler", name)]
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
    # The imports worker converts GeoTIFFs: the shared rasters volume, /tmp on disk, one task at
    # a time and a fresh process every few tasks (GDAL memory).
    imports = objects[("Deployment", "concerto-worker-imports-tiles")]["spec"]["template"]["spec"]
    container = imports["containers"][0]
    assert "--concurrency=1" in container["command"] and "--max-tasks-per-child=10" in container["command"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["rasters"] == objects[("ConfigMap", "concerto-env")]["data"]["RASTER_ROOT"]
    volumes = {v["name"]: v for v in imports["volumes"]}
    assert volumes["rasters"]["persistentVolumeClaim"]["claimName"] == "concerto-rasters"
    assert volumes["tmp"]["emptyDir"].get("medium") != "Memory" and mounts["tmp"] == "/tmp"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert (
        objects[("HorizontalPodAutoscaler", "concerto-web")]["spec"]["scaleTargetRef"]["name"]
        == "concerto-web"
    )

    ini = objects[("ConfigMap", "pgbouncer")]["data"]["pgbouncer.ini"]
    assert "pool_mode = transaction" in ini and "max_prepared_statements = 200" in ini
    assert objects[("Service", "pgbouncer")]["spec"]["ports"][0]["port"] == 6432
    assert objects[("Job", "concerto-migrate")]["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Every Service selects pods that exist; the Ingress points at a Service port that exists.
    pods = {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        for d in objects.values()
        if d["kind"] == "Deployment"
    }
    for (kind, _name), doc in objects.items():
        if kind == "Service":
            assert doc["spec"]["selector"]["app.kubernetes.io/name"] in pods
    backend = objects[("Ingress", "concerto-web")]["spec"]["rules"][0]["http"]["paths"][0]["backend"][
        "service"
    ]
    service = objects[("Service", backend["name"])]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_secret_example_holds_no_real_secret() -> None:
    for doc in _docs(K8S / "secret.example.yaml"):
        for key, value in doc["stringData"].items():
            assert "change-me" in value or "example" in value, key


def test_nginx_sidecar_config_passes_nginx_t(tmp_path: Path) -> None:
    data = _all()[("ConfigMap", "concerto-nginx")]["data"]
    assert (
        data["security-headers.conf"]
        == (PRODUCTION / "nginx" / "security-headers.conf").read_text().split("\n", 3)[3]
    )
    site = data["default.conf"]
    for prefix in ("/var/lib/concerto", "/var/cache/nginx", "/etc/nginx/snippets"):
        site = site.replace(prefix, f"{tmp_path}{prefix}")
        (tmp_path / prefix.lstrip("/")).mkdir(parents=True, exist_ok=True)
    (tmp_path / "etc/nginx/snippets/security-headers.conf").write_text(data["security-headers.conf"])
    (tmp_path / "default.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n include /etc/nginx/mime.types;\n access_log off;\n"
        f" client_body_temp_path {tmp_path}/body;\n proxy_temp_path {tmp_path}/proxy;\n"
        f" include {tmp_path}/default.conf;\n}}\n"
    )
    result = subprocess.run(
        [_nginx(), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_planning_layer_uploads_pass_every_hop_and_spool_on_disk() -> None:
    # A GeoTIFF (URBANISME_RASTER_MAX_BYTES, 500 MB) crosses the Ingress, the sidecar and Django's
    # upload spool; every other path keeps the photo limit.
    objects = _all()
    site = objects[("ConfigMap", "concerto-nginx")]["data"]["default.conf"]
    uploads = site.split("location ~ ^/(api/)?urbanisme/projets/[^/]+/couches/ {", 1)[1].split("}", 1)[0]
    assert "client_max_body_size 520m;" in uploads
    assert "client_max_body_size 56m;" in site.split("location", 1)[0]
    ingress = objects[("Ingress", "concerto-uploads")]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "520m"
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/use-regex"] == "true"
    [path] = ingress["spec"]["rules"][0]["http"]["paths"]
    assert path["path"] == "/(api/)?urbanisme/projets/[^/]+/couches/"
    assert (
        objects[("Ingress", "concerto-web")]["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/proxy-body-size"
        ]
        == "56m"
    )
    web = objects[("Deployment", "concerto-web")]["spec"]["template"]["spec"]
    [tmp] = [volume for volume in web["volumes"] if volume["name"] == "tmp"]
    assert tmp["emptyDir"].get("medium") != "Memory"
    assert tmp["emptyDir"]["sizeLimit"] == "2Gi"
