"""Identifier rules from DOMAIN.md ("Identifiers and their validation")."""

from __future__ import annotations

import pytest

from gateway.assessments.identifiers import (
    CHECK_ALPHABET,
    NHS_NUMBER_SYSTEM,
    ODS_SYSTEM,
    cro_check_letter,
    is_valid_crn,
    is_valid_cro_number,
    is_valid_nhs_number,
    is_valid_ods_code,
    is_valid_pnc_id,
    is_valid_prison_number,
    nhs_number_check_digit,
    normalise_nhs_number,
    normalise_pnc_id,
    pnc_check_letter,
)


def test_alphabet_has_23_letters_without_i_o_s() -> None:
    assert len(CHECK_ALPHABET) == 23
    assert len(set(CHECK_ALPHABET)) == 23
    assert not set("IOS") & set(CHECK_ALPHABET)


def test_fhir_systems() -> None:
    assert NHS_NUMBER_SYSTEM == "https://fhir.nhs.uk/Id/nhs-number"
    assert ODS_SYSTEM == "https://fhir.nhs.uk/Id/ods-organization-code"


# ------------------------------------------------------------------------------------------- NHS number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9449305552", "9449305552"),
        ("944 930 5552", "9449305552"),
        (" 944 930 5552 ", "9449305552"),
        ("", ""),
    ],
)
def test_normalise_nhs_number_strips_spaces(raw: str, expected: str) -> None:
    assert normalise_nhs_number(raw) == expected


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("9000000009", True),  # DOMAIN.md example
        ("9449305552", True),  # DOMAIN.md example
        ("944 930 5552", True),  # spaces allowed on input
        ("900 000 0009", True),
        ("0000000000", True),  # sum 0 -> 11 -> 0
        ("9449305553", False),  # wrong check digit
        ("9000000001", False),  # wrong check digit
        ("1000000010", False),  # first nine give check 10: no valid number starts like this
        ("1000000011", False),
        ("944930555", False),  # 9 digits
        ("94493055521", False),  # 11 digits
        ("944930555X", False),  # non-digit
        ("944-930-5552", False),  # only spaces are allowed as separators
        # full-width digits are not ASCII digits
        ("\uff19\uff14\uff14\uff19\uff13\uff10\uff15\uff15\uff15\uff12", False),
        ("", False),
        ("          ", False),
    ],
)
def test_is_valid_nhs_number(value: str, valid: bool) -> None:
    assert is_valid_nhs_number(value) is valid


@pytest.mark.parametrize("value", [None, 9449305552, ["9449305552"]])
def test_is_valid_nhs_number_refuses_non_strings(value: object) -> None:
    assert is_valid_nhs_number(value) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("first_nine", "check"),
    [("944930555", 2), ("900000000", 9), ("000000000", 0), ("100000001", None)],
)
def test_nhs_number_check_digit(first_nine: str, check: int | None) -> None:
    assert nhs_number_check_digit(first_nine) == check


@pytest.mark.parametrize("bad", ["94493055", "9449305552", "94493055X"])
def test_nhs_number_check_digit_needs_nine_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        nhs_number_check_digit(bad)


# ---------------------------------------------------------------------------------------------- PNC ID


@pytest.mark.parametrize(
    ("year2", "serial", "letter"),
    [
        (20, 9, "N"),  # 2020/0000009N, DOMAIN.md example
        ("20", 9, "N"),
        (0, 1, "A"),  # 000000001 mod 23 = 1
        (0, 23, "Z"),  # 000000023 mod 23 = 0
        (0, 22, "Y"),  # 000000022 mod 23 = 22, the last letter
        (25, 318472, "V"),  # the child example: 250318472 mod 23 = 19
    ],
)
def test_pnc_check_letter(year2: int | str, serial: int, letter: str) -> None:
    assert pnc_check_letter(year2, serial) == letter


@pytest.mark.parametrize(
    ("year2", "serial", "error"),
    [
        (2020, 9, ValueError),
        ("2020", 9, ValueError),
        ("2", 9, ValueError),
        (-1, 9, ValueError),
        (20, 10_000_000, ValueError),
        (20, -1, ValueError),
        (True, 9, TypeError),
        (20.0, 9, TypeError),
        (20, "9", TypeError),
    ],
)
def test_pnc_check_letter_refuses_bad_input(year2: object, serial: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        pnc_check_letter(year2, serial)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("2020/0000009N", True),  # DOMAIN.md example
        ("2020/9N", True),  # shorter serial, zero-padded to 7 for the check
        ("2020/0000009n", True),  # letter case does not matter
        ("2000/0000001A", True),
        ("2000/0000023Z", True),
        ("2025/0318472V", True),
        ("2020/0000009M", False),  # wrong letter
        ("2020/0000009P", False),
        ("2020/0000009I", False),  # I is never a check letter
        ("1920/0000009N", True),  # only the last two digits of the year count
        ("20/0000009N", False),  # two-digit year
        ("2020/00000009N", False),  # 8-digit serial
        ("2020/N", False),  # no serial
        ("2020-0000009N", False),  # wrong separator
        ("2020/000000AN", False),  # letter in the serial
        ("2020/0000009", False),  # no check letter
        (" 2020/0000009N", False),
        ("2020/0000009N\n", False),
        ("", False),
    ],
)
def test_is_valid_pnc_id(value: str, valid: bool) -> None:
    assert is_valid_pnc_id(value) is valid


# ------------------------------------------------------------------------------------------ CRO number


@pytest.mark.parametrize(
    ("year2", "serial", "letter"),
    [(8, 123456, "T"), ("08", 123456, "T"), (0, 1, "A"), (0, 23, "Z"), (25, 45213, "G")],
)
def test_cro_check_letter(year2: int | str, serial: int, letter: str) -> None:
    assert cro_check_letter(year2, serial) == letter


@pytest.mark.parametrize(("year2", "serial"), [(8, 1_000_000), (100, 1), ("8", 1), (8, -5)])
def test_cro_check_letter_refuses_bad_input(year2: int | str, serial: int) -> None:
    with pytest.raises(ValueError):
        cro_check_letter(year2, serial)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("123456/08T", True),  # DOMAIN.md example
        ("123456/08t", True),
        ("045213/25G", True),
        ("45213/25G", True),  # shorter serial, zero-padded to 6
        ("1/00A", True),
        ("123456/08S", False),  # wrong letter
        ("123456/09T", False),  # year changed, letter not
        ("1234567/08T", False),  # 7-digit serial
        ("123456/8T", False),  # one-digit year
        ("123456/2008T", False),  # four-digit year
        ("123456-08T", False),
        ("123456/08", False),
        ("/08T", False),
        ("", False),
    ],
)
def test_is_valid_cro_number(value: str, valid: bool) -> None:
    assert is_valid_cro_number(value) is valid


# ------------------------------------------------------------------------------ CRN, prison number, ODS


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("X123456", True),
        ("x123456", True),
        ("A000000", True),
        ("X12345", False),
        ("X1234567", False),
        ("1234567", False),
        ("XX12345", False),
        ("X12345A", False),
        ("X 123456", False),
        ("", False),
    ],
)
def test_is_valid_crn(value: str, valid: bool) -> None:
    assert is_valid_crn(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("A1234BC", True),
        ("a1234bc", True),
        ("A1234B", False),
        ("AB234BC", False),
        ("A12345C", False),
        ("A1234BCD", False),
        ("", False),
    ],
)
def test_is_valid_prison_number(value: str, valid: bool) -> None:
    assert is_valid_prison_number(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("RX4", True),
        ("Y05KM", True),
        ("RR8", True),
        ("R1", False),
        ("RX4ABC", False),
        ("RX-4", False),
        ("", False),
    ],
)
def test_is_valid_ods_code(value: str, valid: bool) -> None:
    assert is_valid_ods_code(value) is valid


@pytest.mark.parametrize(
    "check", [is_valid_pnc_id, is_valid_cro_number, is_valid_crn, is_valid_prison_number, is_valid_ods_code]
)
@pytest.mark.parametrize("value", [None, 123, b"X123456"])
def test_checks_refuse_non_strings(check, value: object) -> None:
    assert check(value) is False


def test_non_ascii_letters_that_upper_case_to_ascii_are_refused() -> None:
    # U+017F (long s) upper-cases to "S" and U+0131 (dotless i) to "I": such input is not an identifier.
    assert "\u017f".upper() == "S"
    assert is_valid_crn("\u017f123456") is False
    assert is_valid_prison_number("A1234\u017fC") is False
    assert is_valid_pnc_id("2020/0000009\u0131") is False


def test_local_identifier_systems_agree_with_the_fhir_layer() -> None:
    terminology = pytest.importorskip("gateway.fhir.terminology")
    from gateway.assessments import identifiers

    for name in ("NHS_NUMBER_SYSTEM", "PNC_ID_SYSTEM", "CRO_NUMBER_SYSTEM", "CRN_SYSTEM"):
        if hasattr(terminology, name):
            assert getattr(identifiers, name) == getattr(terminology, name), name


@pytest.mark.parametrize(
    ("given", "keyed"),
    [
        ("2025/318472V", "2025/0318472V"),
        ("2025/0318472V", "2025/0318472V"),
        ("2020/9n", "2020/0000009N"),
        ("2020/0000009N", "2020/0000009N"),
        ("not a pnc", "NOT A PNC"),  # left for the validator to refuse
        ("2020/\u017f9N", "2020/\u017f9N"),  # non-ASCII (the long s) is never upper-cased onto ASCII
    ],
)
def test_pnc_ids_are_keyed_with_the_serial_padded_to_seven_digits(given, keyed):
    assert normalise_pnc_id(given) == keyed
    if is_valid_pnc_id(given):
        assert is_valid_pnc_id(keyed)
