"""Media on S3-compatible object storage (``MEDIA_STORAGE=s3``), against a real moto S3 server.

A ``moto_server`` subprocess listens on a free loopback port; each test creates its own public and
private buckets (the public one readable by anyone through a bucket policy, the private one with
no policy and no ACL), builds ``settings.STORAGES`` from the environment exactly as production
does (``config.storage.storages_from_env``) and runs the app's real flows: filing a report with a
geotagged JPEG, the photo task, the public API and page, the served-images audit, retention,
a citizen's erasure, the open data export and its download link, and a raster layer (which stays
on files, ``RASTER_ROOT``). Every check of what the public can read is an anonymous HTTP request
to the S3 endpoint, as a browser would make it.

The photo task is run in this process through ``Task.apply`` (what the worker runs, without the
broker): the shared ``celery_worker`` is configured for the filesystem for the whole session.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import environ
import pytest
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from config.storage import storages_from_env
from geo.images import has_metadata
from opendata import exports
from privacy import retention
from privacy.images import served_images_audit
from privacy.subject import subject_erase
from signalements.models import Photo, Report
from signalements.tasks import photo_process_task
from tests.deploy.conftest import ROOT, free_port
from tests.geo.outbox_support import published as published
from tests.privacy.helpers import contribute
from tests.signalements.world import World, at, gps_jpeg
from tests.signalements.world import world as world
from tests.urbanisme.test_rasters import fetch, geotiff, lonlat, upload_plan
from tests.urbanisme.world import concertation as concertation
from tiles.tilemath import tile_for_lonlat
from urbanisme import rasters
from urbanisme.models import Contribution, Layer, RasterStatus

pytestmark = pytest.mark.django_db

MOTO = ROOT / ".venv" / "bin" / "moto_server"
REGION = "eu-west-3"
JEANNE = "jeanne.martin@example.net"
START_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 API (moto's server) on a free loopback port, for this module."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "false"},
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"moto_server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not answer: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class S3:
    """The buckets of one test and an anonymous HTTP client for them."""

    def __init__(self, endpoint: str, public: str, private: str) -> None:
        self.endpoint, self.public, self.private = endpoint, public, private
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="concerto-test",
            aws_secret_access_key="concerto-test-secret",
        )

    def keys(self, bucket: str, prefix: str = "") -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return {item["Key"] for page in pages for item in page.get("Contents", ())}

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.client.head_object(Bucket=bucket, Key=key)
        except ClientError:
            return False
        return True

    @staticmethod
    def anonymous_get(url: str) -> tuple[int, bytes, str]:
        """A browser's GET: no credentials, no signature."""
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.status, answer.read(), answer.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), ""


def _public_read_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PublicRead",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )


@pytest.fixture
def s3(s3_endpoint: str, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3:
    """Two fresh buckets, and the settings production derives from its environment."""
    suffix = uuid.uuid4().hex[:10]
    buckets = S3(s3_endpoint, f"concerto-public-{suffix}", f"concerto-private-{suffix}")
    for name in (buckets.public, buckets.private):
        buckets.client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    buckets.client.put_bucket_policy(Bucket=buckets.public, Policy=_public_read_policy(buckets.public))
    for key, value in {
        "MEDIA_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": buckets.public,
        "AWS_PRIVATE_STORAGE_BUCKET_NAME": buckets.private,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ADDRESSING_STYLE": "path",  # a bucket host name would not be loopback
        "AWS_ACCESS_KEY_ID": "concerto-test",
        "AWS_SECRET_ACCESS_KEY": "concerto-test-secret",
    }.items():
        monkeypatch.setenv(key, value)
    # Nothing of the media may land on these: they stay empty.
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private"
    settings.RASTER_ROOT = tmp_path / "rasters"
    settings.STORAGES = storages_from_env(environ.Env())
    settings.REPORTS_PUBLISH_UNCONFIRMED = True
    # Tasks are run here by the tests (photo processing, raster conversion), not through a broker.
    monkeypatch.setattr("geo.outbox.publish_fast", lambda task, kwargs: None)
    # Model fields resolved their private storage when the models were loaded (production reads
    # the settings first): point them at the S3 one for this test.
    for model, field in (
        (Photo, "original"),
        (Contribution, "photo_original"),
        (Layer, "raster_original"),
        (Layer, "raster_cog"),
    ):
        monkeypatch.setattr(model._meta.get_field(field), "storage", storages["private"])
    return buckets


def _local_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _file_report(
    api: APIClient, world: World, django_capture_on_commit_callbacks: Any, **extra: Any
) -> Report:
    lon, lat = at(700, -300)
    photo = SimpleUploadedFile("IMG_Jeanne_Martin.jpg", gps_jpeg(lon, lat), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/signalements/",
            {"category": "nid-de-poule", "photos": [photo], "contact_email": JEANNE, **extra},
            format="multipart",
        )
    assert response.status_code == 201, response.content
    return Report.objects.get(reference=response.json()["reference"])


def _process(report: Report) -> Photo:
    """What the media worker runs for each published task."""
    photo = report.photos.get()
    photo_process_task.apply(kwargs={"photo_id": photo.pk}).get()
    photo.refresh_from_db()
    return photo


# --- settings from the environment -----------------------------------------------------------------


def test_storages_from_env_refuses_incomplete_or_shared_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIA_STORAGE", raising=False)
    assert storages_from_env(environ.Env())["private"]["BACKEND"] == "config.storage.PrivateStorage"
    monkeypatch.setenv("MEDIA_STORAGE", "ftp")
    with pytest.raises(ImproperlyConfigured):
        storages_from_env(environ.Env())
    monkeypatch.setenv("MEDIA_STORAGE", "s3")
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "concerto-media")
    monkeypatch.delenv("AWS_PRIVATE_STORAGE_BUCKET_NAME", raising=False)
    with pytest.raises(ImproperlyConfigured, match="AWS_PRIVATE_STORAGE_BUCKET_NAME"):
        storages_from_env(environ.Env())
    monkeypatch.setenv("AWS_PRIVATE_STORAGE_BUCKET_NAME", "concerto-media")
    with pytest.raises(ImproperlyConfigured, match="autre bucket"):
        storages_from_env(environ.Env())
    monkeypatch.setenv("AWS_PRIVATE_STORAGE_BUCKET_NAME", "concerto-private")
    monkeypatch.setenv("AWS_S3_CUSTOM_DOMAIN", "media.concerto.example.fr")
    built = storages_from_env(environ.Env())
    assert built["default"]["OPTIONS"]["querystring_auth"] is False
    assert built["default"]["OPTIONS"]["custom_domain"] == "media.concerto.example.fr"
    assert built["default"]["OPTIONS"]["file_overwrite"] is False  # like the filesystem
    assert built["opendata"]["OPTIONS"]["location"] == "opendata"
    assert built["opendata"]["OPTIONS"]["file_overwrite"] is True
    assert built["private"]["OPTIONS"]["bucket_name"] == "concerto-private"
    assert "custom_domain" not in built["private"]["OPTIONS"]


# --- report photos -----------------------------------------------------------------------------------


def test_a_report_photo_is_served_from_the_public_bucket_without_exif_and_the_original_stays_private(
    s3: S3, world: World, published: Any, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    api = APIClient()
    # when a citizen files a report with a geotagged phone photo, and the media worker runs
    report = _file_report(api, world, django_capture_on_commit_callbacks)
    photo = _process(report)
    original = photo.original.name
    # then the original (with its EXIF) is in the private bucket only
    assert s3.keys(s3.private) == {original}
    assert not s3.exists(s3.public, original)
    stored = s3.client.get_object(Bucket=s3.private, Key=original)["Body"].read()
    assert has_metadata(stored)
    # and an anonymous GET of it is refused; the storage has no URL for it at all
    status, _body, _type = s3.anonymous_get(f"{s3.endpoint}/{s3.private}/{original}")
    assert status == 403
    with pytest.raises(ValueError):
        photo.original.url  # noqa: B018
    # the public copies are in the public bucket, anonymous reads work and carry no metadata
    assert s3.keys(s3.public) == {photo.web.name, photo.thumbnail.name}
    for field in (photo.web, photo.thumbnail):
        assert field.url.startswith(f"{s3.endpoint}/{s3.public}/photos/")
        assert "Signature" not in field.url and "X-Amz" not in field.url
        status, body, content_type = s3.anonymous_get(field.url)
        assert status == 200 and content_type == "image/jpeg"
        assert not has_metadata(body)
        with Image.open(io.BytesIO(body)) as image:
            assert not image.getexif()
    # the public API and page link to the copies, never to the private bucket or the original
    detail = api.get(f"/api/signalements/{report.reference}/")
    [served] = detail.json()["properties"]["photos"]
    assert served["web"] == photo.web.url
    page = api.get(f"/signalements/{report.reference}/")
    assert page.status_code == 200
    for body in (detail.content.decode(), page.content.decode()):
        assert s3.private not in body and original not in body
        assert Path(original).name not in body
    assert photo.web.url in page.content.decode() or photo.thumbnail.url in page.content.decode()
    # the nightly audit reads the served images from the bucket
    checked, findings = served_images_audit()
    assert checked == 2 and findings == []
    # nothing was written on local disks
    assert _local_files(tmp_path) == []


def test_retention_deletes_the_original_object(
    s3: S3, world: World, published: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.RETENTION_PHOTO_ORIGINALS_DAYS = 30
    api = APIClient()
    photo = _process(_file_report(api, world, django_capture_on_commit_callbacks))
    original = photo.original.name
    Photo.objects.filter(pk=photo.pk).update(
        created_at=photo.created_at.replace(year=photo.created_at.year - 1)
    )
    # when the retention job runs (the objects are deleted once its transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        assert retention.apply_retention(only={"photo_originals"}) == {"photo_originals": 1}
    # then the original object is gone, the served copies stay
    assert not s3.exists(s3.private, original) and s3.keys(s3.private) == set()
    assert s3.keys(s3.public) == {photo.web.name, photo.thumbnail.name}
    photo.refresh_from_db()
    assert photo.original.name == ""


def test_a_citizens_erasure_deletes_their_objects(
    s3: S3,
    world: World,
    concertation: Any,
    published: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    api = APIClient()
    processed = _process(_file_report(api, world, django_capture_on_commit_callbacks))
    unprocessed = _file_report(api, world, django_capture_on_commit_callbacks, description="Autre trou")
    contribution = contribute(concertation, email=JEANNE, photo=True)
    # given three originals in the private bucket (two report photos, one contribution photo)
    originals = {
        processed.original.name,
        unprocessed.photos.get().original.name,
        contribution.photo_original.name,
    }
    assert s3.keys(s3.private) == originals
    # when Jeanne asks for her data to be erased
    with django_capture_on_commit_callbacks(execute=True):
        counts = subject_erase(JEANNE)
    # then every original of hers is gone from the private bucket
    assert counts["report_photo_originals"] == 2 and counts["contribution_photo_originals"] == 1
    assert s3.keys(s3.private) == set()
    # and the public, EXIF-free copies of the processed photo stay (the report stays, anonymous)
    assert {processed.web.name, processed.thumbnail.name} <= s3.keys(s3.public)


# --- open data -----------------------------------------------------------------------------------------


def test_the_open_data_export_lands_in_the_bucket_and_its_links_work(
    s3: S3, world: World, published: Any, django_capture_on_commit_callbacks: Any
) -> None:
    api = APIClient()
    _file_report(api, world, django_capture_on_commit_callbacks)
    # when the nightly export runs, twice (the second overwrites, never renames)
    names = exports.exports_write()
    assert exports.exports_write() == names
    # then every file is an object under opendata/ of the public bucket
    assert s3.keys(s3.public, "opendata/") == {f"opendata/{name}" for name in names}
    # and the index links to them; an anonymous download gives what the live export streams
    index = api.get("/opendata/").json()
    files = {f["name"]: f for f in index["datasets"][0]["files"]}
    assert set(files) == {"signalements.csv", "signalements.geojson", "signalements.schema.json"}
    csv_file = files["signalements.csv"]
    assert csv_file["url"] == f"{s3.endpoint}/{s3.public}/opendata/signalements.csv"
    assert csv_file["modified_at"].endswith("Z")
    status, body, content_type = s3.anonymous_get(csv_file["url"])
    live = b"".join(api.get("/opendata/signalements.csv").streaming_content)
    assert status == 200 and body == live and content_type.startswith("text/csv")
    assert csv_file["size"] == len(body)
    status, body, content_type = s3.anonymous_get(files["signalements.geojson"]["url"])
    assert status == 200 and content_type.startswith("application/geo+json")
    assert json.loads(body)["type"] == "FeatureCollection"


# --- rasters stay on files -------------------------------------------------------------------------------


def test_raster_layers_stay_on_raster_root_files_and_photo_originals_never_do(
    s3: S3,
    concertation: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.TILES_RASTER_LOOKUP = "urbanisme.rasters.raster_tile_lookup"
    private = storages["private"]
    # a photo original goes to the bucket and has no local path
    name = private.save("photos/2026/11/x.jpg", ContentFile(b"\xff\xd8\xff"))
    assert s3.keys(s3.private) == {name}
    with pytest.raises(NotImplementedError):
        private.path(name)
    private.delete(name)
    # when a planner uploads a GeoTIFF and the worker converts it
    with django_capture_on_commit_callbacks(execute=True):
        layer = upload_plan(concertation, geotiff(tmp_path / "plan_guide.tif"))
    converted = rasters.raster_to_cog(layer_id=layer.pk)
    assert converted is not None and converted.raster_status == RasterStatus.READY
    # then the original and the COG are files under RASTER_ROOT, never objects
    for field in (converted.raster_original, converted.raster_cog):
        assert Path(field.path).is_file() and str(settings.RASTER_ROOT) in field.path
    assert s3.keys(s3.private) == set() and s3.keys(s3.public) == set()
    # and tiles are read from the COG file
    Layer.objects.filter(pk=layer.pk).update(is_published=True)
    converted.refresh_from_db()
    response = fetch(APIClient(), converted, tile_for_lonlat(*lonlat(150, 100), 17))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


# --- a fresh process configured by its environment only --------------------------------------------

WIRING = """
import json, django
django.setup()
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from signalements.models import Photo
from urbanisme.models import Contribution, Layer
original = Photo._meta.get_field("original").storage
name = original.save("photos/2026/11/wiring.jpg", ContentFile(b"original"))
with original.open(name, "rb") as handle:
    read = handle.read()
try:
    original.url(name)
    url = "leaked"
except ValueError:
    url = None
served = default_storage.save("photos/2026/11/wiring-web.jpg", ContentFile(b"copy"))
print(json.dumps({
    "original": [type(original).__name__, original.bucket_name, name, read.decode(), url],
    "contribution": type(Contribution._meta.get_field("photo_original").storage).__name__,
    "raster": Layer._meta.get_field("raster_cog").storage.path("rasters/cog/x.tif"),
    "served": [served, default_storage.url(served)],
    "opendata": storages["opendata"].url("signalements.csv"),
}))
"""


def test_a_process_configured_by_its_environment_only_uses_both_buckets(s3: S3, tmp_path: Path) -> None:
    """What a web or worker process does at start: settings, then models (fields resolve ``private``)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "RASTER_ROOT": str(tmp_path / "rasters"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PRIVATE_MEDIA_ROOT": str(tmp_path / "private"),
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", WIRING],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    wiring = json.loads(result.stdout.strip().splitlines()[-1])
    assert wiring["original"] == [
        "PrivateS3Storage",
        s3.private,
        "photos/2026/11/wiring.jpg",
        "original",
        None,
    ]
    assert wiring["contribution"] == "PrivateS3Storage"
    assert wiring["raster"] == str(tmp_path / "rasters" / "rasters" / "cog" / "x.tif")
    assert wiring["served"] == [
        "photos/2026/11/wiring-web.jpg",
        f"{s3.endpoint}/{s3.public}/photos/2026/11/wiring-web.jpg",
    ]
    assert wiring["opendata"] == f"{s3.endpoint}/{s3.public}/opendata/signalements.csv"
    assert s3.keys(s3.private) == {"photos/2026/11/wiring.jpg"}
    assert s3.keys(s3.public) == {"photos/2026/11/wiring-web.jpg"}
    assert s3.anonymous_get(f"{s3.endpoint}/{s3.private}/photos/2026/11/wiring.jpg")[0] == 403
    assert s3.anonymous_get(wiring["served"][1])[:2] == (200, b"copy")
    assert _local_files(tmp_path) == []
