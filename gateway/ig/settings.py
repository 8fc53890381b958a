"""Settings of the IG pages, from ``GATEWAY_IG_*`` environment variables (read once, fail loudly)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class IgSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_IG_", extra="ignore")

    # Sessions: signed out after this long idle, and after the absolute limit whatever happens.
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=8, ge=1, le=24)
    # Lockout: this many failed sign-ins in a row lock the account for lockout_minutes.
    lockout_attempts: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    # Sign-in attempts per minute (and burst) from one client address, and for one username typed
    # (whether or not it exists); 0 turns a limit off. Above the lockout, so the lockout speaks first.
    signin_address_per_minute: float = Field(default=20.0, ge=0.0)
    signin_address_burst: int = Field(default=20, ge=1)
    signin_account_per_minute: float = Field(default=10.0, ge=0.0)
    signin_account_burst: int = Field(default=10, ge=1)
    # OIDC sign-in (Authlib's Starlette client): enabled when the issuer is set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scope: str = "openid"
    oidc_label: str = "your organisation's account"

    @model_validator(mode="after")
    def _oidc_complete(self) -> IgSettings:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError("GATEWAY_IG_OIDC_ISSUER needs GATEWAY_IG_OIDC_CLIENT_ID and GATEWAY_IG_OIDC_CLIENT_SECRET")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)
