"""`/readyz` tells the true reason from the first request on: a pod is made right after Redis
answered, so before its first stats report it must not claim Redis does not answer."""

from __future__ import annotations

from place.api.auth import make_authenticator
from place.api.pod import Pod
from place.redis_client import make_redis
from place.settings import Settings


async def test_a_new_pod_without_a_canvas_says_so_not_that_redis_is_down() -> None:
    settings = Settings.from_env({"PLACE_AUTH": "dev"})
    redis = make_redis("redis://127.0.0.1:1/0")  # never asked: nothing has run yet
    try:
        pod = Pod(settings, redis, make_authenticator(settings, "dev"))
        assert pod.ready() == (False, "no canvas yet (is a ticker running?)")
    finally:
        await redis.aclose()
