"""A managed Redis is reached over TLS (`rediss://`, deploy/k8s/overlays/prod): redis-py takes
everything from the URL. Checked against a real redis-server with TLS on loopback, its
certificate from a CA made here: a ticker and a pod run on it and a player places a pixel; a
client that does not trust that CA is refused with one line."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from place.dev import free_port, redis_server_command
from place.errors import RedisUnavailable
from place.redis_client import connect_redis
from tests.client import TestPlayer
from tests.e2e.cluster import BASE_ENV
from tests.servers import PlaceProcess, _wait_for_port


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None, ca_key: Any
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(
            issuer.subject
            if issuer
            else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        )
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            False,
        )
    return builder.sign(ca_key, hashes.SHA256())


def _write(path: Path, certificate: x509.Certificate) -> None:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


class TlsRedis:
    def __init__(self, directory: Path) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("place test CA", ca_key, None, ca_key)
        key = ec.generate_private_key(ec.SECP256R1())
        server = _certificate("127.0.0.1", key, ca, ca_key)
        self.ca_path = directory / "ca.pem"
        _write(self.ca_path, ca)
        _write(directory / "server.pem", server)
        (directory / "server.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.port = free_port()
        command = redis_server_command(0)
        command += [
            "--tls-port",
            str(self.port),
            "--tls-cert-file",
            str(directory / "server.pem"),
            "--tls-key-file",
            str(directory / "server.key"),
            "--tls-ca-cert-file",
            str(self.ca_path),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            "s3cret",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process)

    def url(self, query: str = "") -> str:
        return f"rediss://:s3cret@127.0.0.1:{self.port}/0{query}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedis]:
    server = TlsRedis(tmp_path)
    yield server
    server.stop()


async def test_redis_py_takes_tls_and_its_ca_from_the_url(tls_redis: TlsRedis) -> None:
    redis = await connect_redis(tls_redis.url(f"?ssl_ca_certs={tls_redis.ca_path}"))
    try:
        assert await redis.ping()
        pool = redis.connection_pool
        assert pool.connection_class.__name__ == "SSLConnection"
    finally:
        await redis.aclose()

    # the system's CAs do not include ours: refused, in one line, the password not shown
    with pytest.raises(RedisUnavailable) as refused:
        await connect_redis(tls_redis.url())
    message = str(refused.value)
    assert "\n" not in message and "s3cret" not in message and "certificate" in message.lower()


async def test_a_ticker_and_a_pod_run_on_redis_over_tls(
    tls_redis: TlsRedis, tmp_path: Path
) -> None:
    env = {
        **BASE_ENV,
        "PLACE_REDIS_URL": tls_redis.url(f"?ssl_ca_certs={tls_redis.ca_path}"),
        "PLACE_STORE_URL": f"file://{tmp_path / 'store'}",
        "PLACE_PORT": str(free_port()),
    }
    ticker = PlaceProcess("ticker", env, tmp_path / "logs")
    pod = PlaceProcess("api", env, tmp_path / "logs")
    try:
        pod.wait_ready()
        player = await TestPlayer.join(pod.ws_url)
        await player.sign_in("ann")
        assert (await player.place(3, 4, 5))["t"] == "placed"
        await player.wait_for(lambda: player.pixel(3, 4) == 5)
        await player.close()
    finally:
        pod.stop()
        ticker.stop()
