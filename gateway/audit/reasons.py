"""The closed vocabulary of a log entry's ``reason``: nothing a caller sends is ever written there.

A reason is one of:

- a :class:`Reason` (``no-case-link``, ``csrf``, ``sign-in:throttled``, ...);
- an OAuth refusal: ``<RFC error code>:<AuthCause>`` (``invalid_client:bad-signature``). The precise
  text an authentication error carries may quote what the caller sent (a header's ``alg``, a JOSE
  library's message); only its cause, from a fixed list, reaches the log;
- a staff or identity action naming what it concerns by a gateway-issued identifier:
  ``<ReferenceKind>:<identifier>`` (``disclosure:<uuid>``, ``client:<hex>``, ...), the identifier held to
  a strict pattern.

:func:`closed` is applied by :func:`gateway.audit.log.append` to every entry: a reason outside the
vocabulary is stored as ``unclassified`` (and an application warning names the event, never the value),
so a producer that forgets the rule leaks nothing.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum

logger = logging.getLogger("gateway.audit")


class Reason(StrEnum):
    UNCLASSIFIED = "unclassified"
    # Pulls and their refusals
    BAD_SEARCH_PARAMETER = "bad-search-parameter"
    BAD_SEARCH_FORM = "bad-search-form"
    UNKNOWN_SUBJECT = "unknown-subject"
    UNKNOWN_BUNDLE = "unknown-bundle"
    NO_CASE_LINK = "no-case-link"
    NO_ASSESSMENT = "no-assessment"
    RENDER_ERROR = "render-error"
    MULTIPLE_MATCHES = "multiple-matches"
    NOT_A_PUBLISHER = "not-a-publisher"
    RATE_LIMITED = "rate-limited"
    INTERNAL_ERROR = "internal-error"
    # The policy's own denials (policies/data.json deny_precedence) and the engine's fail-closed ones
    UNKNOWN_AGENCY_TYPE = "unknown-agency-type"
    UNKNOWN_PURPOSE = "unknown-purpose"
    UNKNOWN_AGE_GROUP = "unknown-age-group"
    PURPOSE_NOT_PERMITTED = "purpose-not-permitted-for-agency-type"
    CHILD_SUBJECT_YOT_NOT_PROBATION = "child-subject-yot-not-probation"
    ADULT_SUBJECT_NOT_YOT = "adult-subject-not-yot"
    NOTHING_TO_SHARE_WITHOUT_CONSENT = "nothing-to-share-without-consent"
    POLICY_DENIED = "policy-denied"
    POLICY_ERROR = "policy-error"
    POLICY_UNDEFINED = "policy-undefined"
    POLICY_MALFORMED = "policy-malformed"
    POLICY_UNKNOWN_FIELD = "policy-unknown-field"
    POLICY_CONTRADICTION = "policy-contradiction"
    UNDEFINED = "undefined"
    # Requests (FHIR Task)
    NO_RIGHT_TO_REQUEST = "no-right-to-request"
    TASK_INVALID = "task-invalid"
    NOT_THE_OWNER = "not-the-owner"
    VERSION_CONFLICT = "version-conflict"
    AMBIGUOUS_SUBJECT = "ambiguous-subject"
    SUBJECT_MISMATCH = "subject-mismatch"
    TASK_INVALID_CHANGE = "task-invalid-change"
    UNKNOWN_TASK = "unknown-task"
    NOT_A_PARTY = "not-a-party"
    ERASED_TASK = "erased-task"
    UNKNOWN_AGENCY = "unknown-agency"
    BAD_PATCH = "bad-patch"
    # Publishing and identity
    UNCHANGED = "unchanged"
    IDENTITY_CONFLICT = "identity-conflict"
    IDENTIFIER_UNKNOWN = "identifier-unknown"
    OVERRIDE_INVALID = "override-invalid"
    # Staff
    ATTEMPTS = "attempts"
    PASSWORD = "password"
    OIDC = "oidc"
    CSRF = "csrf"
    SIGN_IN_WRONG = "sign-in:wrong"
    SIGN_IN_LOCKED = "sign-in:locked"
    SIGN_IN_DISABLED = "sign-in:disabled"
    SIGN_IN_UNKNOWN_ACCOUNT = "sign-in:unknown-account"
    SIGN_IN_THROTTLED = "sign-in:throttled"
    OIDC_NO_TOKEN = "oidc:no-token"
    OIDC_NO_ACCOUNT = "oidc:no-account"
    POLICY_ACTIVATED = "policy-activated"


class AuthCause(StrEnum):
    MALFORMED = "malformed"
    MISSING = "missing"
    DUPLICATE = "duplicate"
    TOO_LARGE = "too-large"
    NO_TOKEN = "no-token"
    NO_DPOP_PROOF = "no-dpop-proof"
    WRONG_SCHEME = "wrong-scheme"
    TOKEN_IN_QUERY = "token-in-query"
    WRONG_CONTENT_TYPE = "wrong-content-type"
    UNSUPPORTED_GRANT = "unsupported-grant"
    UNSUPPORTED_ASSERTION_TYPE = "unsupported-assertion-type"
    UNKNOWN_CLIENT = "unknown-client"
    REVOKED = "revoked"
    REPLAYED = "replayed"
    DPOP_NONCE = "dpop-nonce"
    STALE = "stale"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    LIFETIME = "lifetime-too-long"
    BAD_SIGNATURE = "bad-signature"
    KEY_MISMATCH = "key-mismatch"
    BAD_JWK = "bad-jwk"
    KEYS_UNUSABLE = "keys-unusable"
    ALG_NOT_ALLOWED = "alg-not-allowed"
    UNKNOWN_KEY = "unknown-key"
    WRONG_TYP = "wrong-typ"
    UNSUPPORTED_HEADER = "unsupported-header"
    WRONG_METHOD = "wrong-method"
    WRONG_URL = "wrong-url"
    WRONG_ACCESS_TOKEN_HASH = "wrong-access-token-hash"
    NOT_BOUND = "not-bound"
    BOUND_TOKEN_AS_BEARER = "bound-token-as-bearer"
    WRONG_ISSUER = "wrong-issuer"
    WRONG_AUDIENCE = "wrong-audience"
    WRONG_SUBJECT = "wrong-subject"
    BAD_CLAIMS = "bad-claims"
    PURPOSE_NOT_ALLOWED = "purpose-not-allowed"
    SCOPE_NOT_ALLOWED = "scope-not-allowed"
    NOT_YOUR_TOKEN = "not-your-token"
    RATE_LIMITED = "rate-limited"
    OTHER = "other"


#: RFC 6749 5.2, RFC 6750 3.1 and RFC 9449 error codes (gateway.auth.errors).
OAUTH_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "invalid_token",
        "insufficient_scope",
        "invalid_dpop_proof",
        "use_dpop_nonce",
        "slow_down",
    }
)

# Ordered: the first keyword found in the gateway's own refusal text names the cause. The text may
# quote the caller (that is why it never reaches the log); a quoted keyword can only pick another cause.
_AUTH_RULES: tuple[tuple[str, AuthCause], ...] = (
    ("rate limited", AuthCause.RATE_LIMITED),
    ("replayed", AuthCause.REPLAYED),
    ("nonce", AuthCause.DPOP_NONCE),
    ("another client's token", AuthCause.NOT_YOUR_TOKEN),
    ("signed by another key", AuthCause.KEY_MISMATCH),
    ("bound token sent as a bearer", AuthCause.BOUND_TOKEN_AS_BEARER),
    ("not bound to a key", AuthCause.NOT_BOUND),
    ("cnf without", AuthCause.NOT_BOUND),
    ("must use dpop", AuthCause.NO_DPOP_PROOF),
    ("no dpop header", AuthCause.NO_DPOP_PROOF),
    ("dpop proof is required", AuthCause.NO_DPOP_PROOF),
    ("revoked", AuthCause.REVOKED),
    ("stale", AuthCause.STALE),
    ("expired", AuthCause.EXPIRED),
    ("in the future", AuthCause.NOT_YET_VALID),
    ("lifetime", AuthCause.LIFETIME),
    ("keys are unusable", AuthCause.KEYS_UNUSABLE),
    ("jwk", AuthCause.BAD_JWK),
    ("signature", AuthCause.BAD_SIGNATURE),
    ("kid", AuthCause.UNKNOWN_KEY),
    ("alg", AuthCause.ALG_NOT_ALLOWED),
    ("typ", AuthCause.WRONG_TYP),
    ("crit", AuthCause.UNSUPPORTED_HEADER),
    ("htm", AuthCause.WRONG_METHOD),
    ("htu", AuthCause.WRONG_URL),
    ("ath", AuthCause.WRONG_ACCESS_TOKEN_HASH),
    ("issuer", AuthCause.WRONG_ISSUER),
    ("aud", AuthCause.WRONG_AUDIENCE),
    ("unknown client", AuthCause.UNKNOWN_CLIENT),
    ("no longer registered", AuthCause.UNKNOWN_CLIENT),
    ("client_assertion_type", AuthCause.UNSUPPORTED_ASSERTION_TYPE),
    ("grant_type", AuthCause.UNSUPPORTED_GRANT),
    ("purpose", AuthCause.PURPOSE_NOT_ALLOWED),
    ("scope", AuthCause.SCOPE_NOT_ALLOWED),
    ("query string", AuthCause.TOKEN_IN_QUERY),
    ("no authorization header", AuthCause.NO_TOKEN),
    ("more than one", AuthCause.DUPLICATE),
    ("repeated", AuthCause.DUPLICATE),
    ("scheme", AuthCause.WRONG_SCHEME),
    ("content type", AuthCause.WRONG_CONTENT_TYPE),
    ("too long", AuthCause.TOO_LARGE),
    ("body over", AuthCause.TOO_LARGE),
    ("characters", AuthCause.TOO_LARGE),
    ("sub ", AuthCause.WRONG_SUBJECT),
    ("client_id", AuthCause.WRONG_SUBJECT),
    ("jti", AuthCause.BAD_CLAIMS),
    ("iat", AuthCause.BAD_CLAIMS),
    ("exp", AuthCause.BAD_CLAIMS),
    ("missing", AuthCause.MISSING),
    ("parse", AuthCause.MALFORMED),
    ("malformed", AuthCause.MALFORMED),
    ("not an object", AuthCause.MALFORMED),
    ("not json", AuthCause.MALFORMED),
    ("not a compact", AuthCause.MALFORMED),
    ("not a signed jwt", AuthCause.MALFORMED),
)


def auth_cause(text: str) -> AuthCause:
    lowered = text.lower()
    for keyword, cause in _AUTH_RULES:
        if keyword in lowered:
            return cause
    return AuthCause.OTHER


def auth_reason(error: str, text: str) -> str:
    """The log's reason for an OAuth refusal: its wire code and the cause of the gateway's own text."""
    code = error if error in OAUTH_ERRORS else "invalid_request"
    return f"{code}:{auth_cause(text)}"


class ReferenceKind(StrEnum):
    DISCLOSURE = "disclosure"
    CLIENT = "client"
    RUN = "run"
    OVERRIDE = "override"
    ROLE = "role"
    MERGED = "merged"
    UNMERGED = "unmerged"
    RETENTION = "retention"
    DETACHED = "detached"  # an identifier taken off the wrong record: its system
    ACCEPTED = "accepted"


# Gateway-issued identifiers only: UUIDs, hex client ids, rule and element names, "<uuid>:<decision>".
_REFERENCE = {
    ReferenceKind.DISCLOSURE: re.compile(r"[0-9a-f-]{36}"),
    ReferenceKind.CLIENT: re.compile(r"[0-9a-f]{16,64}|[0-9a-f-]{36}"),
    ReferenceKind.RUN: re.compile(r"[0-9a-f-]{36}"),
    ReferenceKind.OVERRIDE: re.compile(r"[0-9a-f-]{36}:(approved|concern)"),
    ReferenceKind.ROLE: re.compile(r"[a-z][a-z-]{1,40}"),
    ReferenceKind.MERGED: re.compile(r"[0-9a-f]{64}|[0-9a-f-]{36}"),  # the other record's subject key
    ReferenceKind.UNMERGED: re.compile(r"[0-9a-f]{64}|[0-9a-f-]{36}"),
    ReferenceKind.RETENTION: re.compile(r"[a-z0-9][a-z0-9-]{1,40}"),
    ReferenceKind.DETACHED: re.compile(r"[a-z-]{1,40}"),
    # the elements accepted: field names, or an identity conflict's (family-name, date-of-birth)
    ReferenceKind.ACCEPTED: re.compile(r"[a-z_-]{2,40}(,[a-z_-]{2,40}){0,5}"),
}
_SCOPES = re.compile(r"[A-Za-z/]+\.(read|write)")


def is_closed(reason: str) -> bool:
    """Whether ``reason`` is in the vocabulary (see the module docstring)."""
    if reason in Reason.__members__.values():
        return True
    counted, _, count = reason.rpartition(":")
    if counted.endswith("rate-limited") and count.isdigit() and is_closed(counted):
        return True
    head, sep, rest = reason.partition(":")
    if not sep:
        return False
    if head in OAUTH_ERRORS:
        return rest in AuthCause.__members__.values() or (
            head == "insufficient_scope" and bool(_SCOPES.fullmatch(rest))
        )
    kind = ReferenceKind.__members__.get(head.upper())
    return kind is not None and bool(_REFERENCE[kind].fullmatch(rest))


_UNLOGGED = re.compile(r"\((\d{1,12}) more refused")


def _with_count(code: str, text: str) -> str:
    """A rate-limit refusal keeps the gateway's own count of the refusals it did not log."""
    found = _UNLOGGED.search(text)
    return f"{code}:{found.group(1)}" if found and code.endswith("rate-limited") else code


def closed(reason: str | None, event: str) -> str | None:
    """``reason`` if it is in the vocabulary; an OAuth refusal's free text reduced to its cause;
    otherwise ``unclassified``."""
    if reason is None or is_closed(reason):
        return reason
    head, sep, rest = reason.partition(":")
    if sep and head in OAUTH_ERRORS:
        return _with_count(auth_reason(head, rest), rest)
    if reason.startswith("rate-limited"):
        return _with_count(Reason.RATE_LIMITED, reason)
    if reason.startswith("internal-error"):
        return Reason.INTERNAL_ERROR
    logger.warning("log reason outside the vocabulary", extra={"fields": {"event": event}})
    return Reason.UNCLASSIFIED
