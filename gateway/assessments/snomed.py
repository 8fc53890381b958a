"""SNOMED CT identifiers (SCTIDs): the Verhoeff check digit.

An SCTID is 6 to 18 digits; its last digit is a Verhoeff check digit over the others (SNOMED CT
Technical Implementation Guide, "SCTID check-digit"). A code that fails the check was mistyped, so the
gateway refuses it at publish rather than send a wrong diagnosis on.
"""

from __future__ import annotations

import re
from typing import Final

SNOMED_SYSTEM = "http://snomed.info/sct"
_SCTID = re.compile(r"[1-9][0-9]{5,17}")

# Verhoeff's dihedral group D5 multiplication table and position permutation.
_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_ok(digits: str) -> bool:
    """True when ``digits`` (check digit last) passes the Verhoeff check."""
    check = 0
    for position, char in enumerate(reversed(digits)):
        check = _D[check][_P[position % 8][int(char)]]
    return check == 0


def is_valid_sctid(code: str) -> bool:
    """A well-formed SCTID whose check digit is right."""
    return bool(_SCTID.fullmatch(code)) and verhoeff_ok(code)


#: The disorders DOMAIN.md names, with their UK edition preferred terms. Their display names are
#: diagnostic terms: text written for police and the CPS that contains one is warned about at publish
#: (``gateway.assessments.free_text``). Homelessness (32911000) is a finding, not a disorder, and is
#: deliberately absent: "homeless" belongs in a safeguarding summary.
DISORDERS: Final = {
    "110359009": "Intellectual disability",
    "35919005": "Autism spectrum disorder",
    "406506008": "Attention deficit hyperactivity disorder",
    "66214007": "Substance abuse",
    "7200002": "Alcoholism",
    "35489007": "Depressive disorder",
}
