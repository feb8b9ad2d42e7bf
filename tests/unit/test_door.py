"""Who gets in, without a server: client addresses behind proxies, per-address limits, durations."""

from __future__ import annotations

import re

import pytest

from place.admin import parse_duration
from place.api.addresses import ClientAddresses
from place.api.door import Door
from place.api.ratelimit import KeyedLimiter
from place.errors import AdminError, SettingsError
from place.settings import Settings


def scope(peer: str, *forwarded: str, origin: str | None = None) -> dict[str, object]:
    headers = [(b"X-Forwarded-For", value.encode()) for value in forwarded]
    if origin is not None:
        headers.append((b"Origin", origin.encode()))
    return {"type": "websocket", "client": (peer, 40000), "headers": headers}


def test_forwarded_for_is_believed_from_trusted_proxies_only() -> None:
    addresses = ClientAddresses(["10.0.0.0/8", "127.0.0.1"])
    assert addresses.of(scope("8.8.8.8", "1.2.3.4")) == "8.8.8.8"  # not a proxy of ours
    assert addresses.of(scope("127.0.0.1")) == "127.0.0.1"  # a proxy without the header
    # the right-most hop that is not one of our proxies; what lies left of it is made up
    assert addresses.of(scope("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.9")) == "1.2.3.4"
    assert addresses.of(scope("10.0.0.2", "6.6.6.6", "1.2.3.4")) == "1.2.3.4"  # two headers
    assert addresses.of(scope("10.0.0.2", "1.2.3.4:5678")) == "1.2.3.4"
    assert addresses.of(scope("10.0.0.2", "[2001:db8::1]:443")) == "2001:db8::1"
    assert addresses.of(scope("::ffff:10.0.0.2", "1.2.3.4")) == "1.2.3.4"
    assert len(addresses.of(scope("10.0.0.2", "x" * 500))) == 64
    assert ClientAddresses([]).of(scope("127.0.0.1", "1.2.3.4")) == "127.0.0.1"


def test_a_bad_trusted_proxy_stops_the_pod_in_one_line() -> None:
    with pytest.raises(SettingsError, match=r"PLACE_TRUSTED_PROXIES .* got '10\.0\.0\.0/33'"):
        ClientAddresses(["10.0.0.0/33"])


def test_sign_ins_per_address_are_limited_others_unaffected() -> None:
    limiter = KeyedLimiter(per_minute=3)
    assert [limiter.take("1.2.3.4") for _ in range(3)] == [0, 0, 0]
    wait = limiter.take("1.2.3.4")
    assert 19 < wait <= 20  # one more every 20 s
    assert limiter.take("5.6.7.8") == 0


def test_the_door_counts_connections_per_address_and_checks_origins() -> None:
    door = Door(
        Settings(
            allowed_origins=("https://Place.example/",),
            max_connections_per_address=2,
            limit_concurrency=3,
        )
    )
    ok = "https://place.example"
    assert door.enter(scope("1.1.1.1", origin="https://evil.example"))[1].status == 403
    assert door.enter(scope("1.1.1.1"))[1].status == 403  # no origin
    assert [door.enter(scope("1.1.1.1", origin=ok))[1] for _ in range(2)] == [None, None]
    assert door.enter(scope("1.1.1.1", origin=ok))[1].status == 403
    assert door.enter(scope("2.2.2.2", origin=ok))[1] is None
    assert door.enter(scope("3.3.3.3", origin=ok))[1].status == 503  # the pod is full
    door.leave("1.1.1.1")
    assert door.enter(scope("1.1.1.1", origin=ok))[1] is None
    assert door.refused == {"origin": 2, "address": 1, "full": 1}


@pytest.mark.parametrize(
    ("text", "ms"), [("90s", 90_000), ("15m", 900_000), ("2h", 7_200_000), ("3d", 259_200_000)]
)
def test_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "2", "2x", "-1h", "0s", "1.5h", "h", "3651d"])
def test_bad_durations_are_named(text: str) -> None:
    with pytest.raises(AdminError, match=re.escape(f"got {text!r}")):
        parse_duration(text)
