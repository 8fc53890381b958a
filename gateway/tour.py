"""The five-minute tour: one list of numbered steps that ``ld-gateway demo`` prints and README.md tells.

Each step is what to try, in words, and the exact commands (run from the repository, in a second
terminal while the demo serves). The commands name demo agencies by code (``--agency POL-NE``): the
clients find their id and key in the demo's key directory, and the gateway at ``$GATEWAY_ISSUER``, so
the same text works for every run. A test runs README's commands literally and checks that they are
these (tests/e2e/test_readme_tour.py). To add a step, add it here and to README's tour, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

PULL = ".venv/bin/python -m adapters.agency_client pull"
REQUESTS = ".venv/bin/python -m adapters.court_requests"
ADULT = "9449305552"  # schemas/examples/adult.json
CHILD = "9000000009"  # schemas/examples/child.json


@dataclass(frozen=True)
class Step:
    title: str
    commands: tuple[str, ...]
    note: str = ""


STEPS: tuple[Step, ...] = (
    Step(
        "Police in custody, then at charging. In custody (PACE): identity, appropriate adult, communication"
        " needs, fitness to be interviewed, risk and safeguarding; no diagnoses, no diversion notes, no"
        " fitness-to-plead concerns. At charging, diversion, intermediary, fitness to plead and referrals too.",
        (
            f"{PULL} --agency POL-NE --purpose custody --nhs-number {ADULT}",
            f"{PULL} --agency POL-NE --purpose charging --nhs-number {ADULT}",
        ),
    ),
    Step(
        "Probation at sentencing, same person: diagnoses (the person consented) and treatment requirements.",
        (f"{PULL} --agency PROB-NE --purpose sentencing --nhs-number {ADULT}",),
    ),
    Step(
        "The youth offending team at sentencing, for the 15-year-old.",
        (f"{PULL} --agency YOT-NE --purpose sentencing --nhs-number {CHILD}",),
    ),
    Step(
        "Case links: the mental health trust has no case with the adult, so he does not exist for it (404);"
        " Southmoor Police was linked to him by another L&D service and sees only that service's record.",
        (
            f"{PULL} --agency MHT-NE --purpose health-referral --nhs-number {ADULT}",
            f"{PULL} --agency POL-SW --purpose charging --nhs-number {ADULT}",
        ),
    ),
    Step(
        "The disclosure log: every pull above, releases and refusals alike, is an entry, and the log"
        " verifies. The policy matrix shows who sees what.",
        (".venv/bin/ld-gateway audit verify", ".venv/bin/ld-gateway policy matrix"),
    ),
    Step(
        "Import a case-system export (fictional): a progress bar, then `4 created`; run it again: `4 unchanged`.",
        (".venv/bin/ld-gateway import adapters/case_export/samples/export.csv --agency LD-NE",),
    ),
    Step(
        "A court request answered live. In a third terminal the L&D service watches for notifications"
        " (ids, status and links only; it renews its token and resumes on its own). The court asks about"
        " the 15-year-old (it prints the request id, TASK_ID); the L&D service accepts (the court gets a"
        " case link) and completes it; the court fetches the answer, checked by the policy and logged.",
        (
            f"{REQUESTS} watch --agency LD-NE --purpose ld-service",
            f"{REQUESTS} ask --agency MC-NE --nhs-number {CHILD} --case-urn 01NE0045626 --hearing-in-minutes 90",
            f"{REQUESTS} accept TASK_ID --agency LD-NE",
            f"{REQUESTS} complete TASK_ID --agency LD-NE",
            f"{REQUESTS} fetch TASK_ID --agency MC-NE",
        ),
    ),
    Step(
        "The IG pages: sign in as ig-demo with the password the demo printed; find who saw the adult's"
        " record and why, verify the log, and answer a subject access request.",
        (),
        note="/ig/sign-in",
    ),
)


def render(base_url: str, ig_account: tuple[str, str] | None, *, default_url: str) -> list[str]:
    """The numbered steps as the demo prints them. Off the default address, each client command also
    names the gateway (``--gateway``); README's commands are the default ones."""
    lines: list[str] = []
    for number, step in enumerate(STEPS, start=1):
        lines.append(f"{number}. {step.title}")
        for command in step.commands:
            extra = f" --gateway {base_url}" if base_url != default_url and "adapters." in command else ""
            lines.append(f"   {command}{extra}")
        if step.note:
            lines.append(f"   {base_url}{step.note}")
            if ig_account is not None:
                username, password = ig_account
                lines.append(f"   username {username}    password {password}   (new on every run, shown only here)")
        lines.append("")
    return lines
