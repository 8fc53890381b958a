"""Sign-in throttling: per client address and per username typed (known or not), in this process.

The lockout protects a known account from guessing; it does nothing against one address trying many
usernames, nor against the cost of the hash itself (argon2id, 64 MiB each): a flood of sign-ins is a
flood of hashes. Each attempt spends a token from its address's bucket and from its username's bucket;
an empty bucket refuses the attempt before any hash is made. The username is kept only in memory, as a
bucket key, and never logged. Behind a reverse proxy the address is the proxy's unless the server is
told to trust its forwarding header (uvicorn ``--proxy-headers --forwarded-allow-ips``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.auth.ratelimit import Limited, RateLimiter

#: Buckets kept per limiter; past this the oldest is forgotten (bounds memory against invented keys).
MAX_KEYS = 10_000


class SignInThrottle:
    def __init__(
        self,
        *,
        address_per_minute: float,
        address_burst: int,
        account_per_minute: float,
        account_burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.by_address = RateLimiter(address_per_minute / 60.0, address_burst, clock=clock, max_keys=MAX_KEYS)
        self.by_account = RateLimiter(account_per_minute / 60.0, account_burst, clock=clock, max_keys=MAX_KEYS)

    def take(self, address: str, username: str) -> Limited | None:
        """Spend one attempt from both buckets; the refusal (the longer wait) when either is empty."""
        refusals = [r for r in (self.by_address.take(address), self.by_account.take(username)) if r is not None]
        if not refusals:
            return None
        # Logged when either limiter says so (each logs at most once a minute per key).
        return Limited(max(r.retry_after for r in refusals), any(r.log for r in refusals), refusals[0].unlogged)
