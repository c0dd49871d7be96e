"""Behind a proxy, over real HTTP: `svl serve` (a real uvicorn process on 127.0.0.1) with and without trusted
proxies, mounted under a prefix (`--root-path`), with a small body limit, and over TLS. Every server stops itself
after a bounded lifetime (coreutils `timeout`) even if the test run dies."""

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.access_service import AccessLogFilter
from api.application import Storage, SupervisionApplication
from infrastructure.settings import Settings
from tests.support.ports import free_port
from tests.support.world import World, build_world, content, write_master_key

ROOT = Path(__file__).resolve().parent.parent
LIFETIME_SECONDS = 120
FORGED = "203.0.113.9"
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


@dataclass
class Server:
    base: str
    log: Path
    process: subprocess.Popen


def serve(settings: Settings, tmp_path: Path, name: str, *args: str, env: dict[str, str] | None = None,
          scheme: str = "http", verify: ssl.SSLContext | bool = False) -> Server:
    port = free_port()
    log = tmp_path / f"{name}.log"
    environment = {**os.environ, "SVL_DATABASE_URL": settings.database_url,
                   "SVL_DATABASE_SCHEMA": settings.database_schema,
                   "SVL_MASTER_KEY_FILE": str(settings.master_key_file),
                   "SVL_SIGNING_KEY_FILE": str(settings.signing_key_file), "SVL_CHECKPOINT_DIR": "",
                   **(env or {})}
    environment.pop("SVL_MASTER_KEY", None)
    with log.open("wb") as out:
        process = subprocess.Popen(["timeout", str(LIFETIME_SECONDS), sys.executable, "-m", "api.cli", "serve",
                                    "--port", str(port), *args], cwd=ROOT, env=environment, stdout=out,
                                   stderr=subprocess.STDOUT)
    base = f"{scheme}://127.0.0.1:{port}"
    while True:  # bounded by the test's timeout
        if process.poll() is not None:
            raise RuntimeError(f"svl serve exited: {log.read_text()}")
        try:
            if httpx.get(f"{base}/health", timeout=2, verify=verify).status_code == 200:
                return Server(base, log, process)
        except httpx.TransportError:
            time.sleep(0.1)


def stop(server: Server) -> str:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)
    return server.log.read_text()


@pytest.fixture
def organisation(settings: Settings, master_key: bytes, clock) -> World:  # noqa: ANN001
    clock.set(dt.datetime.now(dt.timezone.utc))  # the server runs on the real clock
    world = build_world(settings, master_key, clock)
    world.app.close()
    world.app.storage.engine.dispose()
    write_master_key(settings, master_key)
    return world


def logged_clients(settings: Settings, master_key: bytes, record: str) -> list[str]:
    app = SupervisionApplication(Storage.open(settings, master_key=master_key))
    try:
        dana = app.people.users.principal("dana", via="test")  # the DPO reads the access log
        return [e["client"] for e in app.access.access_log_entries(dana, AccessLogFilter(record_id=record))]
    finally:
        app.close()
        app.storage.engine.dispose()


def auth(world: World, user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[user]}"}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_forwarded_for_counts_only_from_a_trusted_proxy(organisation: World, settings: Settings, master_key: bytes,
                                                        tmp_path: Path) -> None:
    record = organisation.records["W"]
    direct = serve(settings, tmp_path, "direct")
    try:
        read = httpx.get(f"{direct.base}/api/v1/records/{record}",
                         headers={**auth(organisation, "sam"), "X-Forwarded-For": FORGED, "X-Forwarded-Proto": "https"})
        assert read.status_code == 200, read.text
        assert "strict-transport-security" not in read.headers  # the forged scheme was not believed either
    finally:
        stop(direct)
    assert logged_clients(settings, master_key, record) == ["127.0.0.1"]

    behind = serve(settings, tmp_path, "behind", env={"SVL_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8"})
    try:
        read = httpx.get(f"{behind.base}/api/v1/records/{record}", headers={
            **auth(organisation, "sam"), "X-Forwarded-For": f"198.51.100.7, {FORGED}, 10.1.2.3",
            "X-Forwarded-Proto": "https"})
        assert read.status_code == 200, read.text
        # TLS ended at the trusted proxy: the answer tells browsers to keep to HTTPS.
        assert read.headers["strict-transport-security"].startswith("max-age=")
    finally:
        stop(behind)
    # The rightmost address no trusted proxy wrote; the client-written 198.51.100.7 proves nothing.
    assert logged_clients(settings, master_key, record) == ["127.0.0.1", FORGED]


@pytest.mark.timeout(180)
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_mounted_under_a_prefix_with_a_body_limit(organisation: World, settings: Settings, tmp_path: Path) -> None:
    server = serve(settings, tmp_path, "prefixed", "--root-path", "/svl", env={"SVL_MAX_BODY_BYTES": "8192"})
    try:
        base = server.base
        # The proxy strips /svl; the documents the app serves point back under it.
        assert httpx.get(f"{base}/api/v1/me", headers=auth(organisation, "sam")).status_code == 200
        assert "/svl/openapi.json" in httpx.get(f"{base}/docs").text
        # The prefix does not let anything past authentication.
        assert httpx.get(f"{base}/api/v1/ledger/checkpoint").status_code == 401
        assert httpx.get(f"{base}/api/v1/records/{organisation.records['W']}").status_code == 401

        events = httpx.get(f"{base}/health").json()["events"]
        body = {"supervisee_id": organisation.workers["W"], "content": content("x" * 20_000)}
        declared = httpx.post(f"{base}/api/v1/records", json=body, headers=auth(organisation, "alex"))
        assert declared.status_code == 413, declared.text
        assert declared.json()["field"] == "body"

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
            for _ in range(40):
                yield b'{"padding": "' + b"y" * 1000 + b'"}'

        streamed = httpx.post(f"{base}/api/v1/records", content=chunks(),
                              headers={**auth(organisation, "alex"), "Content-Type": "application/json"})
        assert streamed.status_code == 413, streamed.text
        assert httpx.get(f"{base}/health").json()["events"] == events  # nothing was written
        small = httpx.post(f"{base}/api/v1/records", json={"supervisee_id": organisation.workers["W"],
                                                           "content": content()}, headers=auth(organisation, "alex"))
        assert small.status_code == 201, small.text
    finally:
        stop(server)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_no_credential_in_the_server_log_and_security_headers_everywhere(organisation: World, settings: Settings,
                                                                        tmp_path: Path) -> None:
    secret = organisation.tokens["sam"]
    server = serve(settings, tmp_path, "logged")
    try:
        base = server.base
        in_query = httpx.get(f"{base}/api/v1/me", params={"access_token": secret})
        assert in_query.status_code == 401  # a token in the URL is not accepted...
        answers = {
            "health": httpx.get(f"{base}/health"),
            "me": httpx.get(f"{base}/api/v1/me", headers=auth(organisation, "sam")),
            "refused": in_query,
            "docs": httpx.get(f"{base}/docs"),
            "unknown": httpx.get(f"{base}/nowhere"),
        }
    finally:
        log = stop(server)
    assert secret not in log  # ...and not written to the log either
    assert "/api/v1/me?[redacted]" in log and '"GET /api/v1/me HTTP/1.1" 200' in log, log
    assert answers["me"].status_code == 200
    for name, answer in answers.items():
        missing = [h for h in SECURITY_HEADERS if h not in answer.headers]
        assert not missing, (name, missing)
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in answer.headers  # plain HTTP: no HSTS
    assert answers["me"].headers["cache-control"] == "no-store"
    # /docs is Swagger UI from this server: scripts and styles from 'self' only (no CDN, no inline script).
    docs_policy = dict(d.strip().split(" ", 1) for d in answers["docs"].headers["content-security-policy"].split(";"))
    assert docs_policy["script-src"] == "'self'" and docs_policy["style-src"] == "'self'", docs_policy
    assert "http" not in answers["docs"].headers["content-security-policy"]


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@pytest.mark.timeout(180)
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_over_tls_the_answers_carry_hsts(organisation: World, settings: Settings, tmp_path: Path) -> None:
    cert_file, key_file = self_signed(tmp_path)
    trust = ssl.create_default_context(cafile=str(cert_file))  # only this certificate
    server = serve(settings, tmp_path, "tls", "--ssl-certfile", str(cert_file), "--ssl-keyfile", str(key_file),
                   scheme="https", verify=trust)
    try:
        answer = httpx.get(f"{server.base}/api/v1/me", headers=auth(organisation, "sam"), verify=trust)
    finally:
        stop(server)
    assert answer.status_code == 200, answer.text
    assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
