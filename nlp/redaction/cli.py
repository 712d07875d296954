"""`commintel nlp ...`: redaction from the command line. One commit per command; nothing logs text."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from nlp.redaction.operations import build_redactor, redact_observations_now
from webapp import transactions


@click.group("nlp", help="Redaction of personal data and place detection.")
def nlp_cli() -> None:
    pass


def read_lines(data: bytes) -> list[str]:
    """Split standard input into items: one per "\\n" (a final newline ends the last item rather than starting one;
    a trailing "\\r" is dropped). Only "\\n" separates items, so text with other line breaks (U+2028, form feed)
    stays one item. Raises ClickException naming the first line that is not UTF-8."""
    if not data:
        return []
    raw = data.split(b"\n")
    if raw[-1] == b"":
        raw.pop()
    lines = []
    for number, line in enumerate(raw, start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise click.ClickException(
                f"Line {number} of standard input is not UTF-8 text; nothing was written."
            ) from None
        lines.append(text[:-1] if text.endswith("\r") else text)
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    return lines


def _one_line(text: str) -> str:
    # A redacted item must stay on one output line whatever the input held.
    return text.replace("\r", " ").replace("\n", " ")


@nlp_cli.command("redact")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 8), help="Worker processes.")
@click.option("--batch-size", default=256, show_default=True, type=click.IntRange(1, 10_000))
@with_appcontext
def redact_command(processes: int, batch_size: int) -> None:
    """Redact UTF-8 standard input, one item per line: exactly one redacted line out per line in, in order."""
    lines = read_lines(sys.stdin.buffer.read())
    if not lines:
        return
    redactor, _ = build_redactor()
    transactions.end_read()  # read-only: release the connection before the long part
    out = sys.stdout.buffer
    for result in redactor.redact_many(lines, batch_size=batch_size, n_process=processes):
        out.write(_one_line(result.text).encode("utf-8") + b"\n")
    out.flush()


@nlp_cli.command("redact-observations")
@click.option("--redo", is_flag=True, help="Also redo redactions made by older rules or another model.")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 8), help="Worker processes.")
@with_appcontext
def redact_observations_command(redo: bool, processes: int) -> None:
    """Redact every stored observation that has no redaction yet (and suggest areas)."""
    with transactions.command(what="redact-observations"):
        count = redact_observations_now(None, redo=redo, n_process=processes)
    click.echo(f"Redacted {count} observations.")
