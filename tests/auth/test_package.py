"""The package's public names and the error hierarchy."""

from __future__ import annotations

import gateway.auth
from gateway.auth import errors
from gateway.auth.vocab import PURPOSE_SCOPES, AgencyType, Purpose, allowed_purposes


def test_all_names_exist():
    assert sorted(gateway.auth.__all__) == sorted(set(gateway.auth.__all__))
    for name in gateway.auth.__all__:
        assert hasattr(gateway.auth, name), name


def test_wire_errors():
    expected = {
        errors.InvalidRequest: ("invalid_request", 400),
        errors.InvalidClient: ("invalid_client", 401),
        errors.InvalidGrant: ("invalid_grant", 400),
        errors.UnauthorizedClient: ("unauthorized_client", 400),
        errors.UnsupportedGrantType: ("unsupported_grant_type", 400),
        errors.InvalidScope: ("invalid_scope", 400),
        errors.InvalidToken: ("invalid_token", 401),
        errors.InsufficientScope: ("insufficient_scope", 403),
    }
    for cls, (code, status) in expected.items():
        error = cls(reason="precise")
        assert isinstance(error, errors.OAuthError)
        assert (error.error, error.status, error.reason) == (code, status, "precise")
        assert error.to_dict() == {"error": code, "error_description": error.description}
        assert "precise" not in error.description


def test_vocabularies_match_the_design():
    assert [t.value for t in AgencyType] == ["police", "cps", "court", "probation", "yot", "health", "ld-service"]
    assert [p.value for p in Purpose] == [
        "custody",
        "charging",
        "case-management",
        "sentencing",
        "health-referral",
        "ld-service",
    ]
    assert set(PURPOSE_SCOPES) == set(Purpose)
    assert allowed_purposes(AgencyType.LD_SERVICE) == {Purpose.LD_SERVICE}
    assert Purpose.LD_SERVICE not in allowed_purposes(AgencyType.COURT)
