"""The `commintel` command: a Flask CLI group. Each command is one transaction: all of it is stored, or nothing."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select
from waitress import serve

from webapp import accounts, create_app, demo, geography, transactions
from webapp import operations as webapp_ops
from webapp.config import DOMAIN_PACKAGES, EMBEDDED_PARENT_VARIABLE, ConfigError, settings_table_markdown
from webapp.extensions import db
from webapp.jobs import work_done_inline
from webapp.models import Area, AreaLevel, Organisation, OrgKind, OrgRole, Partnership, PlatformRole, User
from webapp.warmup import warm_up_in_background

log = logging.getLogger(__name__)

USER_ROLES = ("resident", "member", "org_admin", "convenor", "funder", "admin")


def main() -> None:
    cli = FlaskGroup(create_app=_create_app, add_default_commands=False, help="commintel administration.")
    cli.main(prog_name="commintel")


def _create_app() -> Flask:
    """The app for the CLI; a bad setting ends the command with its message, not a traceback."""
    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"commintel cannot start: {exc}", err=True)
        sys.exit(2)


@contextmanager
def transaction() -> Iterator[None]:
    """Commit if the block finishes; roll back and print a clear message (no stack trace) if it raises."""
    try:
        with transactions.command(what="command"):
            yield
    except webapp_ops.OperationError as exc:
        raise click.ClickException(exc.message) from None


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(orgs_cli)
    app.cli.add_command(partnerships_cli)
    app.cli.add_command(geography_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(serve_command)
    app.cli.add_command(settings_command)


# users -----------------------------------------------------------------------------------------------------------


@click.group("users", help="People and their roles.")
def users_cli() -> None:
    pass


@users_cli.command("create")
@click.option("--email", required=True, help="Their email address (the sign-in name).")
@click.option("--role", required=True, type=click.Choice(USER_ROLES), help="Platform or organisation role.")
@click.option("--org", "org_slug", help="Organisation short name; needed for member and org_admin.")
@click.option("--name", "display_name", help="Name shown to others (default: the part of the email before @).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of asking.")
@with_appcontext
def create_user_command(email: str, role: str, org_slug: str | None, display_name: str | None, password_stdin: bool):
    """Create an account."""
    org = None
    if org_slug:
        org = db.session.scalar(select(Organisation).where(Organisation.slug == org_slug))
        if org is None:
            raise click.BadParameter(f"no organisation with short name {org_slug!r}", param_hint="--org")
    if role in ("member", "org_admin") and org is None:
        raise click.BadParameter("a member or org_admin needs --org", param_hint="--org")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    platform_role = None if role in ("member", "org_admin") else PlatformRole(role)
    org_role = OrgRole.ADMIN if role == "org_admin" else OrgRole.MEMBER
    with transaction():
        user = webapp_ops.create_user(
            email, password, display_name, platform_role=platform_role, organisation=org, org_role=org_role
        )
    click.echo(f"Created user {user.id} ({role}).")


@users_cli.command("reset-mfa")
@click.option("--email", required=True, help="The account whose phone (and recovery codes) were lost.")
@with_appcontext
def reset_mfa_command(email: str):
    """Remove an account's two-step sign-in after checking who is asking; they set it up again at next sign-in."""
    user = webapp_ops.get_user_by_email(email)
    if user is None:
        raise click.BadParameter(f"no account with email {email!r}", param_hint="--email")
    with transaction():
        accounts.turn_off_mfa(user, None, "admin_reset")
    click.echo(f"Two-step sign-in of user {user.id} reset; their sessions ended. They set it up at next sign-in.")


@users_cli.command("end-sessions")
@click.option("--email", help="End this account's sessions.")
@click.option("--all", "everyone", is_flag=True, help="End every session of every account.")
@with_appcontext
def end_sessions_command(email: str | None, everyone: bool):
    """Sign people out: one account everywhere (its remembered devices forgotten too), or everybody."""
    if bool(email) == everyone:
        raise click.UsageError("give either --email or --all")
    with transaction():
        if everyone:
            ended = accounts.end_everyone_sessions(None)
        else:
            user = webapp_ops.get_user_by_email(email or "")
            if user is None:
                raise click.BadParameter(f"no account with email {email!r}", param_hint="--email")
            ended = accounts.end_sessions(user, None, "admin")
            accounts.forget_devices(user)
    click.echo(f"{ended} session{'s' if ended != 1 else ''} ended.")


# orgs ------------------------------------------------------------------------------------------------------------


@click.group("orgs", help="Organisations.")
def orgs_cli() -> None:
    pass


@orgs_cli.command("create")
@click.option("--name", required=True, help="The organisation's name.")
@click.option("--kind", required=True, type=click.Choice([k.value for k in OrgKind]), help="Kind of organisation.")
@click.option("--slug", help="Short name used in addresses (default: made from the name).")
@with_appcontext
def create_org_command(name: str, kind: str, slug: str | None):
    """Create an organisation."""
    with transaction():
        org = webapp_ops.create_organisation(name, kind, slug)
    click.echo(f"Created organisation {org.slug} ({org.kind.label}).")


# partnerships ----------------------------------------------------------------------------------------------------


@click.group("partnerships", help="Partnerships: create them and add their areas, members, funders and convenors.")
def partnerships_cli() -> None:
    pass


def _partnership(slug: str):
    found = db.session.scalar(select(Partnership).where(Partnership.slug == slug))
    if found is None:
        raise click.ClickException(f"No partnership {slug!r} (commintel partnerships list shows them).")
    return found


def _organisation(slug: str) -> Organisation:
    found = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if found is None:
        raise click.ClickException(f"No organisation {slug!r} (create it with commintel orgs create).")
    return found


def _area(code: str):
    found = db.session.scalar(select(Area).where(Area.code == code.strip().upper()))
    if found is None:
        raise click.ClickException(f"No area with the ONS code {code!r} (load the geography first).")
    return found


def _user(email: str):
    found = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if found is None:
        raise click.ClickException(f"No account {email!r} (create it with commintel users create).")
    return found


@partnerships_cli.command("list")
@with_appcontext
def list_partnerships_command():
    """Every partnership with its areas, members, funders and convenors."""
    for p in db.session.scalars(select(Partnership).order_by(Partnership.name)):
        click.echo(f"{p.slug}: {p.name}")
        click.echo(f"  areas: {', '.join(f'{a.name} ({a.code})' for a in p.areas) or 'none (covers anywhere)'}")
        click.echo(f"  members: {', '.join(o.slug for o in p.members) or 'none'}")
        click.echo(f"  funders: {', '.join(o.slug for o in p.funders) or 'none'}")
        click.echo(f"  convenors: {', '.join(u.email for u in p.convenors) or 'none'}")


@partnerships_cli.command("create")
@click.option("--name", required=True, help="The partnership's name.")
@click.option("--slug", help="Short name used in addresses (default: made from the name).")
@click.option("--area", "areas", multiple=True, metavar="CODE", help="ONS code of an area it covers (repeatable).")
@with_appcontext
def create_partnership_command(name: str, slug: str | None, areas: tuple[str, ...]):
    """Create a partnership; add members, funders and convenors with the add-* commands."""
    with transaction():
        partnership = webapp_ops.create_partnership(name, slug, areas=[_area(code) for code in areas])
    click.echo(f"Created partnership {partnership.slug} covering {len(partnership.areas)} area(s).")


def _add_command(what: str, argument: str, find, help_text: str):
    @partnerships_cli.command(f"add-{what}", help=help_text)
    @click.argument("partnership_slug", metavar="PARTNERSHIP")
    @click.argument("item", metavar=argument)
    @with_appcontext
    def command(partnership_slug: str, item: str):
        with transaction():
            partnership = _partnership(partnership_slug)
            thing = find(item)
            added = webapp_ops.add_to_partnership(partnership, what, thing, None)
        name = getattr(thing, "name", None) or getattr(thing, "email", item)
        click.echo(f"{name} {'added as' if added else 'was already'} {what} of {partnership.slug}.")

    return command


_add_command("area", "CODE", _area, "Add an area (ONS code) the partnership covers.")
_add_command("member", "ORG", _organisation, "Add a member organisation (it then accepts the data-sharing agreement).")
_add_command("funder", "ORG", _organisation, "Add a funder organisation (it reads the funders' edition only).")
_add_command("convenor", "EMAIL", _user, "Add a convenor (an account with the convenor role).")


# geography -------------------------------------------------------------------------------------------------------


@click.group("geography", help="Statistical geography (ONS areas and boundaries).")
def geography_cli() -> None:
    pass


@geography_cli.command("load")
@click.argument("lookup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--boundaries", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="GeoJSON file.")
@click.option("--level", type=click.Choice(["ward", "lsoa", "lad"]), help="Level of the areas in --boundaries.")
@click.option("--local-authority", help="Load only this local authority's rows, e.g. E06000023.")
@with_appcontext
def load_geography_command(lookup: Path, boundaries: Path | None, level: str | None, local_authority: str | None):
    """Load an ONS LSOA → ward → local authority lookup CSV of any vintage (LSOA11CD/WD19CD/LAD19CD,
    lsoa21_code/ward24_code/ltla24_code ...), and optionally boundaries for one level."""
    if boundaries is not None and level is None:
        raise click.BadParameter("say which level the boundaries are with --level", param_hint="--level")
    with transaction():
        report = geography.load_lookup(lookup, local_authority)
        click.echo(f"Lookup: {report.rows} rows; {report.summary()}.")
        if boundaries is not None:
            b = geography.load_boundaries(boundaries, AreaLevel(level or ""))
            click.echo(f"Boundaries: {b.rows} {level} areas given a boundary.")
            if b.unmatched:
                click.echo(f"{len(b.unmatched)} boundary codes matched no area: {', '.join(b.unmatched[:20])}")


@geography_cli.command("load-bridge")
@click.argument("bridge", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--local-authority", help="Load only this local authority's rows, e.g. E06000023.")
@with_appcontext
def load_bridge_command(bridge: Path, local_authority: str | None):
    """Load the ONS LSOA (2011) → LSOA (2021) lookup with its change codes U/S/M/X (columns LSOA11CD, LSOA21CD,
    CHGIND ..., or lsoa11_code, lsoa21_code, change_code), after the lookups of both vintages."""
    with transaction():
        report = geography.load_bridge(bridge, local_authority)
        click.echo(f"Bridge: {report.rows} rows; {report.summary()}.")


@geography_cli.command("load-neighbourhoods")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def load_neighbourhoods_command(file: Path):
    """Load a gazetteer CSV of neighbourhood names and their wards (columns neighbourhood, ward_code and optionally
    ward_name), after the lookup that holds the wards. A file with a bad row is refused whole, every bad row listed."""
    with transaction():
        report = geography.load_neighbourhoods(file)
        click.echo(f"Gazetteer: {report.summary()}.")


@geography_cli.command("load-postcodes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def load_postcodes_command(file: Path):
    """Load postcode → LSOA (2021) pairs from the ONS postcode directory (ONSPD or NSPL CSV: columns pcds and
    lsoa21, the others ignored), after the lookup: only postcodes of loaded LSOAs are kept, so the national file can
    be given as it is. A file with a bad row is refused whole, every bad row listed."""
    with transaction():
        report = geography.load_postcodes(file)
        click.echo(f"Postcodes: {report.summary()}.")


# demo ------------------------------------------------------------------------------------------------------------


@click.command("demo", help="Load the demo data set into the configured database (safe to run again).")
@with_appcontext
def demo_command():
    # The demo redacts and fits themes itself, so the observations it saves queue no background work.
    with work_done_inline():
        for line in _load_demo_parts():
            click.echo(line)
    click.echo(demo.logins_text(current_app.config["COMMINTEL_BASE_URL"]))


def _load_demo_parts() -> Iterator[str]:
    """The foundation's demo, then each domain package's part (observations, themes, indicators, briefings), each
    committed on its own so that a later step can be re-run without redoing the earlier ones."""
    loaders = [demo.load] + [
        importlib.import_module(f"{name}.demo").load
        for name in DOMAIN_PACKAGES
        if importlib.util.find_spec(f"{name}.demo") is not None
    ]
    for load in loaders:
        with transaction():
            lines = load()
        yield from lines


# serve -----------------------------------------------------------------------------------------------------------


@click.command("serve", help="Serve the app with waitress, with an embedded background worker.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Do not start the embedded worker (use separate Celery workers).")
@with_appcontext
def serve_command(host: str, port: int, threads: int, no_worker: bool):
    # SIGTERM (kill, systemd, docker stop) ends the process without running `finally`: stopping the worker and the
    # scheduler below needs it raised as an exit, as Ctrl+C's KeyboardInterrupt is.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    worker = None if no_worker else EmbeddedWorker().start()
    try:
        click.echo(f"commintel is serving on http://{host}:{port}/  (Ctrl+C to stop)")
        app = current_app._get_current_object()  # type: ignore[attr-defined]  # werkzeug's LocalProxy, untyped
        warm_up_in_background(app)  # what first requests would load (webapp/warmup.py)
        serve(app, host=host, port=port, threads=threads, ident="commintel")
    finally:
        if worker is not None:
            worker.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


class EmbeddedWorker:
    """The background processes `commintel serve` runs as its children: a Celery worker and the beat scheduler, each
    started again when it dies (killed by the system for memory, say); the worker's start-up recovers what it was
    doing. They are two processes, not `worker --beat`: that runs beat in a child of the worker, which a killed
    worker would leave behind, still scheduling, beside the new one's. Restarts wait a little longer each time a
    process dies young (1 s, 2 s... 60 s at most), so one that cannot start does not spin."""

    def __init__(self) -> None:
        self.instance_dir = current_app.config["COMMINTEL_INSTANCE_DIR"]
        self.starters = {"worker": start_embedded_worker, "scheduler": start_embedded_scheduler}
        self.processes: dict[str, subprocess.Popen] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name="embedded-worker-supervisor", daemon=True)

    @property
    def process(self) -> subprocess.Popen | None:
        """The worker process."""
        return self.processes.get("worker")

    def start(self) -> EmbeddedWorker:
        for name, starter in self.starters.items():
            self.processes[name] = starter(self.instance_dir)
        self._thread.start()
        return self

    def _supervise(self) -> None:
        delay = dict.fromkeys(self.starters, 1.0)
        started = dict.fromkeys(self.starters, time.monotonic())
        while not self._stopping.wait(1.0):
            for name, process in list(self.processes.items()):
                if process.poll() is None:
                    continue
                log.error("the embedded %s stopped (exit %s); starting it again in %.0f s", name, process.returncode,
                          delay[name])  # fmt: skip
                if self._stopping.wait(delay[name]):
                    return
                # One that lived a while gets a quick restart next time; one that died young, a slower one.
                delay[name] = 1.0 if time.monotonic() - started[name] > 60 else min(60.0, delay[name] * 2)
                started[name] = time.monotonic()
                self.processes[name] = self.starters[name](self.instance_dir)

    def stop(self) -> None:
        self._stopping.set()
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


# The embedded worker's niceness: requests first, background work with what they leave (measured with
# benchmarks/load_and_fault.py: at 0, the worker's redaction took 42 of the 61 processor-seconds while 50 submitters
# waited; see docs/reliability.md).
EMBEDDED_WORKER_NICE = 10


def embedded_worker_environment() -> dict[str, str]:
    """This process's environment, with the embedded worker's lower priority and this process's id, so that it
    stops when this process does (webapp/worker.py applies both)."""
    return {**os.environ, "COMMINTEL_WORKER_NICE": str(EMBEDDED_WORKER_NICE), **_parent_environment()}


def _parent_environment() -> dict[str, str]:
    return {EMBEDDED_PARENT_VARIABLE: str(os.getpid())}


def start_embedded_worker(instance_dir: str | None = None) -> subprocess.Popen:
    """A Celery worker in a child process, sharing this process's settings, at a lower priority than the site."""
    cmd = [sys.executable, "-m", "celery", "-A", "webapp.worker", "worker", "--pool=threads", "--concurrency=2",
           "--loglevel=INFO"]  # fmt: skip
    click.echo("Starting the embedded background worker.")
    return subprocess.Popen(cmd, env=embedded_worker_environment())  # noqa: S603 - fixed argument list, no shell


def start_embedded_scheduler(instance_dir: str | None = None) -> subprocess.Popen:
    """Celery beat (the nightly refit and the sweeps) in a child process, sharing this process's settings."""
    instance_dir = instance_dir or current_app.config["COMMINTEL_INSTANCE_DIR"]
    cmd = [sys.executable, "-m", "celery", "-A", "webapp.worker", "beat", "--loglevel=INFO",
           "--schedule", str(Path(instance_dir) / "celerybeat-schedule")]  # fmt: skip
    return subprocess.Popen(cmd, env={**os.environ, **_parent_environment()})  # noqa: S603 - fixed arguments, no shell


# settings --------------------------------------------------------------------------------------------------------


@click.command("settings", help="Print every setting with its default and description (Markdown).")
def settings_command():
    click.echo(settings_table_markdown())
