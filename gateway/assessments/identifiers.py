"""Identifiers of the people L&D services assess, and their check rules.

Pure functions, no I/O. The rules are those of ``DOMAIN.md`` ("Identifiers and their validation"):

* NHS number: 10 digits (spaces allowed on input and stripped); modulus 11 with weights 10..2 on digits
  1-9; a result of 11 means 0, a result of 10 means the number is invalid.
* PNC ID ``YYYY/NNNNNNNL``: serial of up to 7 digits; check letter = (two-digit year followed by the serial
  zero-padded to 7 digits, read as one number) mod 23, indexing :data:`CHECK_ALPHABET`.
* CRO number ``NNNNNN/YYL``: serial of up to 6 digits; check letter = (two-digit year followed by the
  serial zero-padded to 6 digits) mod 23, same alphabet.
* Probation case reference (nDelius CRN): one letter and 6 digits. Prison number: a letter, 4 digits,
  2 letters. ODS code: 3-5 letters or digits.

Only ASCII characters count (an Arabic-Indic three is not a digit), and letters are compared without regard
to case. The ``is_valid_*`` functions return ``False`` for anything that is not a ``str``; they never raise.

FHIR identifier systems. The NHS number and ODS code systems are the NHS England ones used by UK Core.
PNC, CRO, CRN and prison numbers have no published FHIR identifier system that we know of, so this gateway
defines its own under ``https://ld-gateway.example/fhir/Id/`` (the same base as ``gateway.fhir.terminology``,
which must agree with these values): the ``.example`` top-level domain is reserved
(RFC 2606), so these URIs can never clash with anybody else's namespace. They are identifiers, not
addresses: they are not expected to resolve, and they must not change once recipients hold them. Should a
national system be published, map to it in the FHIR layer rather than editing these values.
"""

from __future__ import annotations

import re
from typing import Final

NHS_NUMBER_SYSTEM: Final = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM: Final = "https://fhir.nhs.uk/Id/ods-organization-code"
PNC_ID_SYSTEM: Final = "https://ld-gateway.example/fhir/Id/pnc-id"
CRO_NUMBER_SYSTEM: Final = "https://ld-gateway.example/fhir/Id/cro-number"
CRN_SYSTEM: Final = "https://ld-gateway.example/fhir/Id/ndelius-crn"
PRISON_NUMBER_SYSTEM: Final = "https://ld-gateway.example/fhir/Id/prison-number"

#: The 23 check letters of PNC IDs and CRO numbers; I, O and S are left out. Index = remainder mod 23.
CHECK_ALPHABET: Final = "ZABCDEFGHJKLMNPQRTUVWXY"

_NHS_RE: Final = re.compile(r"[0-9]{10}")
_PNC_RE: Final = re.compile(r"(?P<year>[0-9]{4})/(?P<serial>[0-9]{1,7})(?P<letter>[A-Z])")
_CRO_RE: Final = re.compile(r"(?P<serial>[0-9]{1,6})/(?P<year>[0-9]{2})(?P<letter>[A-Z])")
_CRN_RE: Final = re.compile(r"[A-Z][0-9]{6}")
_PRISON_RE: Final = re.compile(r"[A-Z][0-9]{4}[A-Z]{2}")
_ODS_RE: Final = re.compile(r"[A-Z0-9]{3,5}")
_TWO_DIGITS: Final = re.compile(r"[0-9]{2}")


def _ascii_upper(s: object) -> str | None:
    """``s`` in upper case, or ``None`` if it is not an ASCII string.

    ASCII only, because ``str.upper`` maps a few other letters onto ASCII ones (U+017F, the long s,
    becomes ``"S"``).
    """
    return s.upper() if isinstance(s, str) and s.isascii() else None


def normalise_nhs_number(s: str) -> str:
    """Remove the spaces people type into NHS numbers (``"943 476 5919"`` becomes ``"9434765919"``)."""
    return s.replace(" ", "")


def normalise_pnc_id(s: str) -> str:
    """The one form a PNC ID is keyed and stored in: upper case, the serial zero-padded to 7 digits.

    ``2025/318472V`` and ``2025/0318472V`` are one PNC ID (the check letter is computed over the padded
    serial), so they must key one person. Text that is not PNC-shaped comes back as it was (upper-cased
    when ASCII), for the validator to refuse.
    """
    upper = _ascii_upper(s)
    if upper is None:
        return s
    match = _PNC_RE.fullmatch(upper)
    if match is None:
        return upper
    return f"{match['year']}/{int(match['serial']):07d}{match['letter']}"


def nhs_number_check_digit(first_nine: str) -> int | None:
    """The modulus 11 check digit for nine digits, or ``None`` when the rule makes the number invalid (10).

    Sum of digit x weight for weights 10..2; check = 11 - (sum mod 11); 11 becomes 0.
    """
    if not re.fullmatch(r"[0-9]{9}", first_nine):
        raise ValueError("expected exactly nine digits")
    total = sum(int(digit) * weight for digit, weight in zip(first_nine, range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(s: str) -> bool:
    """True for 10 digits (after removing spaces) whose last digit is the modulus 11 check digit."""
    if not isinstance(s, str):
        return False
    digits = normalise_nhs_number(s)
    if not _NHS_RE.fullmatch(digits):
        return False
    return nhs_number_check_digit(digits[:9]) == int(digits[9])


def _two_digit_year(year2: int | str) -> int:
    if isinstance(year2, bool):
        raise TypeError("year must be an int or a two-digit string")
    if isinstance(year2, str):
        if not _TWO_DIGITS.fullmatch(year2):
            raise ValueError("year must be two digits")
        return int(year2)
    if isinstance(year2, int):
        if not 0 <= year2 <= 99:
            raise ValueError("year must be between 0 and 99")
        return year2
    raise TypeError("year must be an int or a two-digit string")


def _serial(serial: int, digits: int) -> int:
    if isinstance(serial, bool) or not isinstance(serial, int):
        raise TypeError("serial must be an int")
    if not 0 <= serial < 10**digits:
        raise ValueError(f"serial must have at most {digits} digits")
    return serial


def pnc_check_letter(year2: int | str, serial: int) -> str:
    """PNC ID check letter: int(YY followed by the serial padded to 7 digits) mod 23 in CHECK_ALPHABET.

    ``year2`` is the last two digits of the year (``20`` or ``"20"`` for 2020). ``pnc_check_letter(20, 9)``
    is ``"N"`` (2020/0000009N).
    """
    number = int(f"{_two_digit_year(year2):02d}{_serial(serial, 7):07d}")
    return CHECK_ALPHABET[number % 23]


def is_valid_pnc_id(s: str) -> bool:
    """True for ``YYYY/NNNNNNNL`` (serial of 1-7 digits) with the right check letter."""
    text = _ascii_upper(s)
    match = _PNC_RE.fullmatch(text) if text is not None else None
    if match is None:
        return False
    expected = pnc_check_letter(match["year"][2:], int(match["serial"]))
    return match["letter"] == expected


def cro_check_letter(year2: int | str, serial: int) -> str:
    """CRO number check letter: int(YY followed by the serial padded to 6 digits) mod 23 in CHECK_ALPHABET.

    ``cro_check_letter(8, 123456)`` is ``"T"`` (123456/08T).
    """
    number = int(f"{_two_digit_year(year2):02d}{_serial(serial, 6):06d}")
    return CHECK_ALPHABET[number % 23]


def is_valid_cro_number(s: str) -> bool:
    """True for ``NNNNNN/YYL`` (serial of 1-6 digits) with the right check letter."""
    text = _ascii_upper(s)
    match = _CRO_RE.fullmatch(text) if text is not None else None
    if match is None:
        return False
    return match["letter"] == cro_check_letter(match["year"], int(match["serial"]))


def is_valid_crn(s: str) -> bool:
    """True for a probation case reference number (nDelius CRN): one letter followed by 6 digits."""
    text = _ascii_upper(s)
    return text is not None and _CRN_RE.fullmatch(text) is not None


def is_valid_prison_number(s: str) -> bool:
    """True for a prison number: a letter, 4 digits, 2 letters (e.g. ``A1234BC``)."""
    text = _ascii_upper(s)
    return text is not None and _PRISON_RE.fullmatch(text) is not None


def is_valid_ods_code(s: str) -> bool:
    """True for an ODS organisation code: 3 to 5 letters or digits (e.g. ``RX4``, ``Y05KM``)."""
    text = _ascii_upper(s)
    return text is not None and _ODS_RE.fullmatch(text) is not None
