"""``ld-gateway policy matrix --html``: the disclosure matrix as one page an IG lead can read and sign.

Self-contained (inline CSS, no scripts, no external fetches), so it can be mailed, archived and printed.
Accessible: a language, a title, one ``h1``, a caption and scoped header cells on every table, and
every cell says "Released" or "Withheld" in words (colour is never the only signal). Each withheld cell
names its rule; the rules are listed with their plain-English reasons. The page ends with the policy
revision it shows and a sign-off block.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from gateway.policy.decision import Decision
from gateway.policy.matrix import AGE_GROUPS, CONSENTS

Cell = tuple[str, str, str, str]

_CONSENT_LABEL = {
    "given": "consent given",
    "declined": "consent declined",
    "withdrawn": "consent withdrawn",
    "not-possible": "cannot consent",
}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Arial,sans-serif;margin:2rem auto;max-width:80rem;
padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.7rem}h2{font-size:1.3rem;margin-top:2.5rem;border-bottom:2px solid #1b1b1b}
table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.4rem 0}
th,td{border:1px solid #6f6f6f;padding:.3rem .45rem;vertical-align:top;text-align:left}
thead th{background:#e8e8e8}
td.released{background:#e3f2e1}td.withheld{background:#fbe9e7}
td span.rule{display:block;font-size:.78rem;color:#3a3a3a}
.meta{background:#f4f4f4;padding:.6rem 1rem;border-left:4px solid #1b1b1b}
.signoff td{height:2.4rem}
@media print{h2{page-break-before:always}td.released,td.withheld{-webkit-print-color-adjust:exact;
print-color-adjust:exact}}
"""


def render_matrix_html(
    decisions: Sequence[tuple[Cell, Decision]],
    *,
    field_titles: Mapping[str, str],
    revision: str,
    generated: str,
) -> str:
    """The page for ``decisions`` (from :func:`gateway.policy.matrix.matrix_decisions`)."""
    by_cell = dict(decisions)
    pairs = list(dict.fromkeys((a, p) for (a, p, _, _) in by_cell))
    allowed_pairs = [
        pair for pair in pairs if any(by_cell[(*pair, c, g)].allowed for c in CONSENTS for g in AGE_GROUPS)
    ]
    reasons: dict[str, str] = {}
    for decision in by_cell.values():
        for w in decision.withheld:
            reasons.setdefault(w.rule, w.reason)

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en-GB">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Information sharing agreement: disclosure matrix</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<h1>Information sharing agreement: who sees what</h1>",
        '<p class="meta">Policy revision <code>'
        + escape(revision)
        + "</code>, generated "
        + escape(generated)
        + ". Computed by asking the running policy engine every question below; nothing here is"
        " copied from the policy files. Without consent, only the minimum is shown here: a lawful"
        " override recorded by an L&amp;D practitioner can add its basis's minimised set (see the policy"
        " guide).</p>",
        "<h2>Contents</h2>",
        "<ul>",
    ]
    for agency_type, purpose in allowed_pairs:
        parts.append(
            f'<li><a href="#{_anchor(agency_type, purpose)}">{escape(agency_type)} at {escape(purpose)}</a></li>'
        )
    parts.append('<li><a href="#refused">Refused outright</a></li>')
    parts.append('<li><a href="#rules">Why fields are withheld</a></li>')
    parts.append('<li><a href="#signoff">Sign-off</a></li>')
    parts.append("</ul>")

    columns = [(c, g) for g in AGE_GROUPS for c in CONSENTS]
    for agency_type, purpose in allowed_pairs:
        parts.append(f'<h2 id="{_anchor(agency_type, purpose)}">{escape(agency_type)} at {escape(purpose)}</h2>')
        parts.append("<table>")
        parts.append(
            f"<caption>Fields released to {escape(agency_type)} for {escape(purpose)}, by consent and age"
            " (a child's consent is a Gillick-competent child's)</caption>"
        )
        parts.append('<thead><tr><th scope="col">Field</th>')
        for consent, age in columns:
            parts.append(f'<th scope="col">{escape(age)}, {escape(_CONSENT_LABEL[consent])}</th>')
        parts.append("</tr></thead><tbody>")
        for field_id in sorted(field_titles):
            parts.append(
                f'<tr><th scope="row">{escape(field_titles[field_id])}<br><code>{escape(field_id)}</code></th>'
            )
            for consent, age in columns:
                parts.append(_cell(by_cell[(agency_type, purpose, consent, age)], field_id))
            parts.append("</tr>")
        parts.append("</tbody></table>")

    parts.append('<h2 id="refused">Refused outright</h2>')
    parts.append("<table><caption>Questions the policy refuses whatever the consent</caption>")
    parts.append('<thead><tr><th scope="col">Agency type</th><th scope="col">Purpose</th>')
    parts.append('<th scope="col">Age group</th><th scope="col">Reason</th></tr></thead><tbody>')
    refused = sorted({(a, p, g, d.deny_reason or "") for (a, p, _c, g), d in by_cell.items() if not d.allowed})
    for agency_type, purpose, age, reason in refused:
        parts.append(
            f"<tr><td>{escape(agency_type)}</td><td>{escape(purpose)}</td><td>{escape(age)}</td>"
            f"<td><code>{escape(reason)}</code></td></tr>"
        )
    parts.append("</tbody></table>")

    parts.append('<h2 id="rules">Why fields are withheld</h2>')
    parts.append('<table><caption>Rules, most specific first</caption><thead><tr><th scope="col">Rule</th>')
    parts.append('<th scope="col">Reason given to IG staff and recorded in the disclosure log</th></tr></thead><tbody>')
    for rule, reason in reasons.items():
        parts.append(f"<tr><td><code>{escape(rule)}</code></td><td>{escape(reason)}</td></tr>")
    parts.append("</tbody></table>")

    parts.append('<h2 id="signoff">Sign-off</h2>')
    parts.append(
        "<p>I have reviewed the disclosure matrix above for policy revision <code>"
        + escape(revision)
        + "</code> and approve it as the information sharing agreement in force.</p>"
    )
    parts.append('<table class="signoff"><caption>Approval</caption><tbody>')
    for label in ("Name", "Role", "Organisation", "Signature", "Date"):
        parts.append(f'<tr><th scope="row">{label}</th><td></td></tr>')
    parts.append("</tbody></table>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _cell(decision: Decision, field_id: str) -> str:
    if decision.allowed and field_id in decision.released:
        return '<td class="released">Released</td>'
    if not decision.allowed:
        return (
            f'<td class="withheld">Withheld<span class="rule">{escape(decision.deny_reason or "refused")}</span></td>'
        )
    rule = next((w.rule for w in decision.withheld if w.field == field_id), "default-deny")
    return f'<td class="withheld">Withheld<span class="rule">{escape(rule)}</span></td>'


def _anchor(agency_type: str, purpose: str) -> str:
    return f"{agency_type}-{purpose}"
