"""``ld-gateway policy matrix --html``: the disclosure matrix as one page an IG lead can read and sign.

Self-contained (inline CSS, no scripts, no external fetches), so it can be mailed, archived and printed.
Accessible: a language, a title, one ``h1``, a caption and scoped header cells on every table, and
every cell says "Released" or "Withheld" in words (colour is never the only signal). Each withheld cell
names its rule; the rules are listed with their plain-English reasons. Each cell that departs from the
first edition of the agreement says so and links to the reason (``gateway.policy.editions``), and the
departures are listed with their reasons. The page ends with the policy revision it shows and a sign-off
block.

Only the policy's own answers are drawn: a decision on which the engine failed (an error, a timeout, an
answer it could not trust) raises :class:`gateway.policy.matrix.MatrixIncomplete` rather than print as
"Withheld" on a page someone signs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from gateway.policy.decision import Decision
from gateway.policy.editions import CellChange
from gateway.policy.matrix import AGE_GROUPS, CONSENTS, Cell, answered

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
td span.edition{display:block;font-size:.78rem;font-style:italic;border-top:1px dashed #6f6f6f;margin-top:.2rem}
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
    edition_changes: Sequence[CellChange] = (),
) -> str:
    """The page for ``decisions`` (from :func:`gateway.policy.matrix.matrix_decisions`); ``edition_changes``
    (from :func:`gateway.policy.editions.changes_from_first_edition`) marks the cells that depart from the
    first edition, each with its reason. :class:`~gateway.policy.matrix.MatrixIncomplete` when any decision
    is the engine's failure rather than the policy's answer."""
    by_cell = {cell: answered(cell, decision) for cell, decision in decisions}
    departed = {(c.cell, c.field): c for c in edition_changes}
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
    if edition_changes:
        parts.append('<li><a href="#first-edition">Changes from the first edition, and why</a></li>')
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
                cell = (agency_type, purpose, consent, age)
                parts.append(_cell(by_cell[cell], field_id, departed.get((cell, field_id))))
            parts.append("</tr>")
        parts.append("</tbody></table>")

    if edition_changes:
        parts.extend(_edition_section(edition_changes))

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


def _cell(decision: Decision, field_id: str, change: CellChange | None = None) -> str:
    note = _edition_note(change)
    if decision.allowed and field_id in decision.released:
        return f'<td class="released">Released{note}</td>'
    if not decision.allowed:
        reason = escape(decision.deny_reason or "refused")
        return f'<td class="withheld">Withheld<span class="rule">{reason}</span>{note}</td>'
    rule = next((w.rule for w in decision.withheld if w.field == field_id), "default-deny")
    return f'<td class="withheld">Withheld<span class="rule">{escape(rule)}</span>{note}</td>'


def _edition_note(change: CellChange | None) -> str:
    if change is None:
        return ""
    was = "withheld" if change.change == "released" else "released"
    if change.departure is None:
        return f'<span class="edition">{was} in the first edition: no reason recorded</span>'
    ident = escape(change.departure.id)
    return f'<span class="edition">{was} in the first edition: <a href="#edition-{ident}">{ident}</a></span>'


def _edition_section(changes: Sequence[CellChange]) -> list[str]:
    """Each departure from the first edition with its reason, and the views it changes."""
    parts = ['<h2 id="first-edition">Changes from the first edition, and why</h2>']
    parts.append("<table><caption>Every cell above that departs from the first edition names one of these")
    parts.append('</caption><thead><tr><th scope="col">Departure</th><th scope="col">Reason</th>')
    parts.append('<th scope="col">Cells</th><th scope="col">Views changed</th></tr></thead><tbody>')
    grouped: dict[str, list[CellChange]] = {}
    for change in changes:
        grouped.setdefault(change.departure.id if change.departure else "", []).append(change)
    for ident, items in grouped.items():
        departure = items[0].departure
        reason = departure.reason if departure else "No reason recorded: this departure is not signed off."
        views = sorted({f"{c.cell[0]} at {c.cell[1]}" for c in items})
        parts.append(
            f'<tr id="edition-{escape(ident)}"><td><code>{escape(ident or "unexplained")}</code></td>'
            f"<td>{escape(reason)}</td><td>{len(items)}</td><td>{escape('; '.join(views))}</td></tr>"
        )
    parts.append("</tbody></table>")
    return parts


def _anchor(agency_type: str, purpose: str) -> str:
    return f"{agency_type}-{purpose}"
