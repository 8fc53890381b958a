"""``ld-gateway`` commands for keeping the records right: ``assessment history``,
``subject find|merge|unmerge|resolve|detach``, ``retention run``. (``import`` belongs to its adapter,
``adapters/case_export/cli.py``.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.table import Table

from gateway import cli_support
from gateway.cli_support import console, err_console
from gateway.terminal import page_table

if TYPE_CHECKING:  # every `ld-gateway` command loads this module; the database's come when a command runs
    from sqlalchemy.orm import Session

assessment_app = typer.Typer(help="Published assessments and their versions.", no_args_is_help=True)


@assessment_app.command("history")
def assessment_history(
    assessment_id: str = typer.Argument(..., help="The assessment's id (as POST /assessments answered)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List an assessment's versions, oldest first: when each was published, and a keyed digest of its
    content (equal digests, equal content). No content is shown."""
    from gateway.assessments.store import version_history

    versions = cli_support.read(lambda tx: version_history(tx, assessment_id))
    if not versions:
        err_console.print("error: no assessment with this id")
        raise typer.Exit(1)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "version": v.version,
                        "created_at": v.created_at.isoformat(),
                        "content_digest": v.content_digest,
                        "erased": v.erased,
                    }
                    for v in versions
                ]
            )
        )
        return
    table = Table("version", "published (UTC)", "content digest", "erased")
    for column in table.columns[:3]:
        column.no_wrap = True  # a date or digest broken over two lines cannot be compared by eye
    for v in versions:
        published = v.created_at.strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(str(v.version), published, v.content_digest[:16], "yes" if v.erased else "")
    page_table(console, table)


subject_app = typer.Typer(
    help="People's records: find, merge and unmerge; resolve identity conflicts (L&D administrators).",
    no_args_is_help=True,
)
retention_app = typer.Typer(help="Retention: erase records whose retention period has ended.", no_args_is_help=True)


def _gateway_parts() -> tuple[Any, Any, Any]:
    from gateway.db.engine import make_engine, make_session_factory
    from gateway.keys import load_keyring

    settings = cli_support.settings()
    engine = make_engine(settings.database_url)
    return engine, make_session_factory(engine), load_keyring(settings.keys_dir)


T = TypeVar("T")


def _records_action(action: Callable[..., T], **kwargs: Any) -> T:
    """Run one ``gateway.ingest.records`` action on the configured gateway; a refused one exits 1 saying why."""
    from gateway.assessments.identity import MergeError

    engine, sessions, keyring = _gateway_parts()
    try:
        return action(sessions, keyring, **kwargs)
    except MergeError as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@subject_app.command("find")
def subject_find(
    nhs_number: str | None = typer.Option(None, help="An NHS number (10 digits)."),
    pnc_id: str | None = typer.Option(None, help="A PNC ID (YYYY/NNNNNNNL)."),
) -> None:
    """Print the subject id a person's NHS number or PNC ID belongs to (after merges), and their records.

    Pass the identifier through the environment or a prompt if your shell history is shared: it is
    personal data. The output names only internal ids."""
    from sqlalchemy import func, select

    from gateway.assessments import identity, store
    from gateway.assessments.identifiers import normalise_nhs_number
    from gateway.db import unit_of_work
    from gateway.db.models import Assessment

    if (nhs_number is None) == (pnc_id is None):
        raise typer.BadParameter("give exactly one of --nhs-number, --pnc-id")
    engine, sessions, keyring = _gateway_parts()

    def look_up(tx: Session) -> tuple[str, list[tuple[str, int]]] | None:
        if nhs_number is not None:
            found = store.find_subject_id(tx, keyring, store.NHS_NUMBER, normalise_nhs_number(nhs_number))
        else:
            found = store.find_subject_id(tx, keyring, store.PNC_ID, (pnc_id or "").strip())
        if found is None:
            return None
        counts = [
            (
                sid,
                tx.execute(
                    select(func.count()).select_from(Assessment).where(Assessment.subject_id == sid)
                ).scalar_one(),
            )
            for sid in identity.group(tx, found)
        ]
        return found, counts

    try:
        looked_up = unit_of_work.read(sessions, look_up)
        if looked_up is None:
            err_console.print("error: no subject with this identifier")
            raise typer.Exit(1)
        found, members = looked_up
        table = Table("subject", "role", "assessments")
        table.columns[0].no_wrap = True  # a subject id is copied whole into merge/unmerge
        for sid, own in members:
            table.add_row(sid, "kept" if sid == found else "merged into kept", str(own))
        page_table(console, table)
        typer.echo(found)
    finally:
        engine.dispose()


@subject_app.command("merge")
def subject_merge(
    keep: str = typer.Argument(..., help="The subject id that stays."),
    absorb: str = typer.Argument(..., help="The subject id that becomes part of it."),
    by: str = typer.Option(..., help="Who decided (the L&D administrator's name or staff id)."),
    reference: str | None = typer.Option(None, help="A ticket or case-note reference (never personal data)."),
) -> None:
    """Merge two records of one person (never on name and date of birth alone). Logged; reversible."""
    from gateway.ingest.records import merge_subjects

    _records_action(merge_subjects, keep=keep, absorb=absorb, by=by, reference=reference, now=_now())
    console.print(f"Merged {absorb} into {keep}; `ld-gateway subject unmerge {absorb} --by ...` reverses it.")


@subject_app.command("unmerge")
def subject_unmerge(
    subject: str = typer.Argument(..., help="The subject id that was merged into another."),
    by: str = typer.Option(..., help="Who decided."),
) -> None:
    """Reverse a merge: both records read exactly as before it. Logged."""
    from gateway.ingest.records import unmerge_subject

    record = _records_action(unmerge_subject, subject_id=subject, by=by, now=_now())
    console.print(f"Unmerged {record.subject_id} from {record.into_subject_id}.")


@subject_app.command("resolve")
def subject_resolve(
    subject: str = typer.Argument(..., help="The subject id (from `ld-gateway subject find`)."),
    family_name: str | None = typer.Option(None, help="A family name to accept as also this person's."),
    date_of_birth: str | None = typer.Option(None, help="A date of birth (YYYY-MM-DD) to accept as this person's."),
    by: str = typer.Option(..., help="Who decided (the L&D administrator's name or staff id)."),
    reference: str | None = typer.Option(None, help="A ticket or case-note reference (never personal data)."),
) -> None:
    """Resolve an identity conflict as the same person: a publish refused with 409 because its family name or
    date of birth differ from this person's records (a changed name, a corrected date) is accepted when sent
    again. Logged (which elements, never the values). If instead the identifier was mistyped, correct the
    record that carries it; if it was on this person's record by mistake, `ld-gateway subject detach`."""
    from datetime import date

    from gateway.ingest.records import accept_identity

    if date_of_birth is not None:
        try:
            date.fromisoformat(date_of_birth)
        except ValueError:
            raise typer.BadParameter("--date-of-birth must be YYYY-MM-DD") from None
    elements = _records_action(
        accept_identity,
        subject_id=subject,
        family_name=family_name,
        birth_date=date_of_birth,
        by=by,
        reference=reference,
        now=_now(),
    )
    console.print(f"Accepted for {subject}: {', '.join(elements)}.")


@subject_app.command("detach")
def subject_detach(
    subject: str = typer.Argument(..., help="The subject id the identifier is wrongly on."),
    nhs_number: str | None = typer.Option(None, help="The NHS number to take off this person's record."),
    pnc_id: str | None = typer.Option(None, help="The PNC ID to take off this person's record."),
) -> None:
    """Resolve an identity conflict as not this person: take an NHS number or PNC ID off a record it was on
    by mistake, so that it can find whoever it belongs to. Correct and republish the record that carried it
    first, or its next version claims it again. Logged."""
    from gateway.assessments import store
    from gateway.assessments.identifiers import normalise_nhs_number
    from gateway.ingest.records import detach_identifier

    if (nhs_number is None) == (pnc_id is None):
        raise typer.BadParameter("give exactly one of --nhs-number, --pnc-id")
    system, value = (
        (store.NHS_NUMBER, normalise_nhs_number(nhs_number)) if nhs_number else (store.PNC_ID, (pnc_id or "").strip())
    )
    holder = _records_action(detach_identifier, subject_id=subject, system=system, value=value, now=_now())
    console.print(f"Detached the {system} from {holder}.")


@retention_app.command("run")
def retention_run(
    dry_run: bool = typer.Option(False, "--dry-run", help="List who is due; erase nothing."),
    today: str | None = typer.Option(None, help="Judge as of this date (YYYY-MM-DD; default: today, UTC)."),
) -> None:
    """Crypto-shred everyone whose retention period has ended: adults 20 years after last contact;
    children at 25, or 26 if 17 at last contact. Each erasure is logged without personal data; the
    disclosure log still verifies afterwards (`ld-gateway audit verify`)."""
    from datetime import date

    from gateway.ingest.records import run_retention

    day = date.fromisoformat(today) if today else _now().date()
    engine, sessions, keyring = _gateway_parts()
    try:
        expired = run_retention(sessions, keyring, today=day, now=_now(), dry_run=dry_run)
    finally:
        engine.dispose()
    table = Table("subject", "rule", "kept until", title="Due for erasure" if dry_run else "Erased")
    for item in expired:
        for sid in item.subject_ids:
            table.add_row(sid, item.retention.rule, item.retention.keep_until.isoformat())
    if expired:
        console.print(table)
    records = sum(len(e.subject_ids) for e in expired)
    verb = "due for erasure" if dry_run else "erased"
    console.print(f"{len(expired)} people ({records} subject records) {verb} as of {day.isoformat()}")


def _now() -> datetime:
    return datetime.now(UTC)
