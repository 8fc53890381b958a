"""Per-client token buckets (gateway/auth/ratelimit.py), with an injected clock."""

from __future__ import annotations

from gateway.auth.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate():
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    refused = limiter.take("a")
    assert refused is not None and refused.retry_after == 1
    assert limiter.take("b") is None  # per client
    clock.now += 0.5
    assert limiter.take("a") is None  # one token back after 1/rate seconds
    assert limiter.take("a") is not None


def test_retry_after_covers_a_slow_rate():
    clock = Clock()
    limiter = RateLimiter(rate=1 / 30, burst=1, clock=clock)
    assert limiter.take("a") is None
    refused = limiter.take("a")
    assert refused is not None and refused.retry_after == 30


def test_a_flood_logs_one_refusal_per_interval_with_the_count():
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=1, clock=clock, log_interval=60)
    assert limiter.take("a") is None
    decisions = [limiter.take("a") for _ in range(1000)]
    assert [d.log for d in decisions if d is not None].count(True) == 1
    assert decisions[0] is not None and decisions[0].log and decisions[0].unlogged == 0
    clock.now += 60
    later = [limiter.take("a") for _ in range(100)]
    assert later[0] is None  # the bucket refilled (to its burst)
    logged = [d for d in later if d is not None and d.log]
    assert len(logged) == 1 and logged[0].unlogged == 999


def test_zero_rate_means_no_limit():
    limiter = RateLimiter(rate=0, burst=1)
    assert all(limiter.take("a") is None for _ in range(1000))
