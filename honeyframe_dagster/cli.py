"""`honeyframe`: apply documents to the store, list what the factory builds, start the stack.

Each command imports what it needs when it runs (the store, the model, Dagster), so that `honeyframe --help` and a
mistyped argument answer at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honeyframe_dagster.settings import HomeUnusable, get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from honeyframe_dagster.reconciler import Change


def cmd_init(args: argparse.Namespace) -> int:
    from honeyframe_dagster.boot import boot

    boot(get_settings())
    print("store ready")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    return apply_paths([Path(p) for p in args.paths], reload=True, dry_run=args.dry_run)


def apply_paths(paths: list[Path], reload: bool, dry_run: bool = False) -> int:
    """Apply the documents under `paths` all or nothing; `reload`: tell a running stack's code locations;
    `dry_run`: say what would change and write nothing (the same write, rolled back)."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from honeyframe_dagster.boot import boot
    from honeyframe_dagster.dbt import built_names, load_manifest, recipe_names
    from honeyframe_dagster.documents_io import DocumentErrors, read_documents
    from honeyframe_dagster.dry_run import compare, snapshot
    from honeyframe_dagster.legacy.drift import SchemaDriftError
    from honeyframe_dagster.model.documents import Dataset
    from honeyframe_dagster.store import service
    from honeyframe_dagster.store.tables import ScenarioRow

    try:
        located = read_documents(paths)
    except DocumentErrors as exc:
        for message in exc.messages:
            print(f"error: {message}", file=sys.stderr)
        print("nothing was applied", file=sys.stderr)
        return 1
    try:
        engine = boot(get_settings())
    except SchemaDriftError as exc:
        # Applying documents (e.g. the project a legacy row names) is how an operator unblocks a migration.
        print(f"warning: {exc}\napplying anyway; run `honeyframe init` afterwards", file=sys.stderr)
        from honeyframe_dagster.store.engine import get_engine

        engine = get_engine(get_settings().store_url)
    from honeyframe_dagster.reconciler import Change
    from honeyframe_dagster.store.versions import reshaped, set_actor

    manifest = load_manifest()
    documents = [item.document for item in located]
    with Session(engine) as session, session.begin():
        set_actor(session, "apply")
        before = snapshot(session) if dry_run else {}
        try:
            disabled = service.apply(session, documents, recipe_names(manifest), dbt_built=built_names(manifest))
        except service.Invalid as exc:
            session.rollback()
            where = located[exc.index].where if exc.index is not None else "(documents)"
            print(f"error: {where}: {exc}", file=sys.stderr)
            print("nothing was applied" if not dry_run else "dry run: the apply would fail", file=sys.stderr)
            return 1
        if dry_run:
            preview = compare(before, snapshot(session))
            session.rollback()
            for line in preview.lines():
                print(line)
            print(f"dry run: {len(located)} document(s) valid; nothing was written")
            return 0
        touched = touched_projects(session, documents)
        # Only a job or trigger of a new shape needs its location reloaded (store/versions.py `reshaped`).
        changed = reshaped(session)
        reshaped_projects = set(
            session.scalars(select(ScenarioRow.project_id).where(ScenarioRow.id.in_(sorted(changed))))
        )
        stated = service.stated_scenarios(session, documents)
        statuses = set(session.scalars(select(ScenarioRow.id).where(ScenarioRow.project_id.in_(sorted(touched)))))
        datasets = any(isinstance(document, Dataset) for document in documents)
    print(f"applied {len(located)} document(s)")
    if reload:
        change = Change(
            reload_projects=reshaped_projects,
            scenarios=statuses,
            explicit=stated,
            stopped=disabled,
            action="disabled by apply",
            warehouse=datasets,
        )
        reconcile_after_apply(engine, change)
    return 0


def touched_projects(session: Session, documents: list[Any]) -> set[str]:
    """The projects whose code location shows these documents (a template: every project with an instance)."""
    from sqlalchemy import select

    from honeyframe_dagster.model.documents import Calendar, Project, Template
    from honeyframe_dagster.store.catalog import load_catalog
    from honeyframe_dagster.store.tables import ScenarioRow
    from honeyframe_dagster.store.writes import calendar_users

    projects: set[str] = set()
    for d in documents:
        if isinstance(d, Calendar) and d.project is None:  # org-wide: the projects whose triggers name it
            projects.update(r.project_id for r in calendar_users(load_catalog(session), None, d.id))
        elif not isinstance(d, Template):
            projects.add(d.id if isinstance(d, Project) else d.project)
    slugs = [d.slug for d in documents if isinstance(d, Template)]
    if slugs:
        projects.update(session.scalars(select(ScenarioRow.project_id).where(ScenarioRow.template_slug.in_(slugs))))
    return projects


def reconcile_after_apply(engine: Engine, change: Change) -> None:
    """When `make run` is up: reload the code locations serving the change, make each trigger's status in Dagster
    what the store says (a scenario's `enabled` as applied wins over Dagster's state), cancel the queued runs of
    what the apply disabled; the same post-commit work as the API's (honeyframe_dagster/reconciler.py)."""
    from honeyframe_dagster.dagster_client import DagsterClient
    from honeyframe_dagster.reconciler import Reconciler
    from honeyframe_dagster.running import dagster_url, unreachable_hint
    from honeyframe_dagster.shards import location_count

    settings = get_settings()
    url = dagster_url(settings)
    if not url:
        return
    # The instance of `honeyframe up` when DAGSTER_HOME is not set here (stack.prepare_dagster_home).
    home = None if settings.dagster_home else settings.dagster_home_dir
    if home is not None and not (home / "dagster.yaml").is_file():
        home = None  # no instance there (`up` never ran here): Dagster's instance is not read, and says so
    client = DagsterClient(url, home)
    try:
        outcome = Reconciler(client, engine, location_count(engine, settings.code_locations or 1)).after_write(change)
    finally:
        client.close()
    if outcome.reloaded:
        many = len(outcome.reloaded) > 1
        print(f"reloaded the Dagster code location{'s' if many else ''} {', '.join(outcome.reloaded)}")
    if not outcome.ok:
        print(
            f"Dagster does not answer at {url}: its code locations show the change when they next load "
            f"({unreachable_hint(settings)})"
        )
    if change.stopped:
        canceled = outcome.canceled or 0
        print(f"canceled {canceled} queued run(s) of the {len(change.stopped)} scenario(s) this apply disabled")


def cmd_list(args: argparse.Namespace) -> int:
    from honeyframe_dagster.boot import boot, shard_scenarios
    from honeyframe_dagster.dbt import load_manifest, recipe_names
    from honeyframe_dagster.factory.plan import plan

    settings = get_settings()
    compiled = shard_scenarios(boot(settings), settings.shard_slice)
    print("JOB\tTRIGGER\tSTATUS\tERROR")
    for entry in sorted(plan(compiled, recipe_names(load_manifest()), settings.shard_slice), key=lambda e: e.job_name):
        if entry.spec is None:
            print(f"{entry.job_name}\t-\tERROR\t{entry.error}")
        else:
            trigger = entry.spec.trigger.describe(entry.spec.timezone)
            print(f"{entry.job_name}\t{entry.trigger_name} ({trigger})\t{entry.status}\t")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from honeyframe_dagster.tokens import TokenError, check_scope, create_token

    try:
        check_scope(args.admin, args.project)
    except TokenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from sqlalchemy.orm import Session

    from honeyframe_dagster.boot import boot

    engine = boot(get_settings())
    with Session(engine) as session, session.begin():
        try:
            token = create_token(session, args.name, args.admin, args.project, args.expires_in)
        except TokenError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(token)
    expiry = f"; it expires in {args.expires_in} day(s)" if args.expires_in else ""
    print(f"store this token now: it is not shown again{expiry}", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from honeyframe_dagster.boot import boot
    from honeyframe_dagster.clock import utcnow
    from honeyframe_dagster.tokens import list_tokens

    now = utcnow()
    with Session(boot(get_settings())) as session:
        tokens = list_tokens(session)
    print("NAME\tSCOPE\tCREATED\tLAST USED\tEXPIRES")
    for info in tokens:
        expires = _when(info.expires_at, "never")
        if info.expires_at is not None and info.expires_at <= now:
            expires += " (expired)"
        print(
            f"{info.name}\t{info.scope}\t{_when(info.created_at, '-')}\t{_when(info.last_used_at, 'never')}\t{expires}"
        )
    return 0


def _when(moment: dt.datetime | None, missing: str) -> str:
    return missing if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from honeyframe_dagster.boot import boot
    from honeyframe_dagster.tokens import TokenError, revoke_token

    with Session(boot(get_settings())) as session, session.begin():
        try:
            revoke_token(session, args.name)
        except TokenError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(f"revoked token {args.name!r}: it no longer authenticates")
    return 0


def expiry_days(value: str) -> int:
    """argparse type of --expires-in: a whole number of days within the allowed range."""
    from honeyframe_dagster.tokens import MAX_EXPIRY_DAYS, TokenError, check_expiry_days

    try:
        days = int(value)
        check_expiry_days(days)
    except (ValueError, TokenError):
        raise argparse.ArgumentTypeError(
            f"expected a whole number of days from 1 to {MAX_EXPIRY_DAYS}, got {value!r}"
        ) from None
    return days


def cmd_backfill(args: argparse.Namespace) -> int:
    from honeyframe_dagster.backfill import BackfillError, backfill

    try:
        return backfill(args.scenario, args.start, args.end, dry_run=args.dry_run)
    except BackfillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_mailsink(args: argparse.Namespace) -> int:
    from honeyframe_dagster.services.mailsink import serve

    settings = get_settings()
    serve(args.host, args.port or settings.smtp_port, Path(args.dir) if args.dir else settings.home_dir / "mail")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from honeyframe_dagster.services.stack import Piece, up

    if args.only == "code-server" and args.shard is None:
        print("error: --only code-server needs --shard i/n (the shard this server serves)", file=sys.stderr)
        return 2
    if args.shard is not None and args.only != "code-server":
        print("error: --shard goes with --only code-server", file=sys.stderr)
        return 2
    return up(Piece(args.only or "all", args.host, args.port, args.shard), apply_paths)


def shard_arg(value: str) -> tuple[int, int]:
    index, _, count = value.partition("/")
    if not (index.isdigit() and count.isdigit() and 0 <= int(index) < int(count)):
        raise argparse.ArgumentTypeError(f"expected 'i/n' with 0 <= i < n, got {value!r}")
    return int(index), int(count)


def cmd_shards(args: argparse.Namespace) -> int:
    """Show the stored count and the pairs per shard; `set N` changes the count (projects move: docs/deploy.md)."""
    from sqlalchemy.orm import Session

    from honeyframe_dagster.boot import boot
    from honeyframe_dagster.model.naming import shard_location_name
    from honeyframe_dagster.shards import pair_count, save_count, shard_sizes, stored_count, target_count

    settings = get_settings()
    engine = boot(settings)
    with Session(engine) as session, session.begin():
        previous = stored_count(session)
        if args.count is not None:
            save_count(session, args.count)
        count = stored_count(session) or 1
        pairs = pair_count(session)
        sizes = shard_sizes(session, count)
    if args.count is not None and args.count != previous:
        print(
            f"code locations: {previous or 'not chosen'} -> {args.count}; restart every code server (shards "
            f"0/{args.count} to {args.count - 1}/{args.count}) and the webserver, daemon and API (docs/deploy.md)"
        )
    chosen = "stored" if previous is not None or args.count is not None else "not chosen yet: the first start picks"
    print(f"code locations: {count} ({chosen}); {pairs} scenario(s)")
    for index, size in enumerate(sizes):
        print(f"  {shard_location_name(index, count)}\t{size}")
    target = target_count(pairs, settings.pairs_per_location)
    if target > count:
        print(f"at {settings.pairs_per_location} per location (HONEYFRAME_PAIRS_PER_LOCATION) it would be {target}")
    return 0


def location_count_arg(value: str) -> int:
    from honeyframe_dagster.shards import MAX_LOCATIONS

    if not value.isdigit() or not 1 <= int(value) <= MAX_LOCATIONS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_LOCATIONS}, got {value!r}")
    return int(value)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="honeyframe",
        description="Honeyframe Scheduler on Dagster: scenarios (a trigger plus steps) and templates, kept in a store "
        "and run by Dagster. Settings are HONEYFRAME_* environment variables; none is needed on one machine.",
        epilog="`honeyframe COMMAND --help` describes a command. Commands that talk to a running system find the "
        "one `honeyframe up` started with the same HONEYFRAME_HOME, unless HONEYFRAME_DAGSTER_URL says otherwise.",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "init",
        help="create or upgrade the store",
        description="Create the store (HONEYFRAME_DATABASE_URL, default SQLite under HONEYFRAME_HOME) or run its "
        "migrations, and migrate legacy schedule tables (docs/operations.md). `up` and `apply` do it as well.",
    ).set_defaults(func=cmd_init)
    up = commands.add_parser(
        "up",
        help="start the whole system on this machine, or one piece of it (--only)",
        description="Without --only: every piece on this machine. Across machines (docs/deploy.md): "
        "`--only code-server --shard i/n` on each code-server host, and `--only ui` (webserver, daemon, API) with "
        "HONEYFRAME_CODE_SERVERS=host:port,... naming the code servers in shard order. Ctrl-C stops everything.",
    )
    up.add_argument(
        "--only", choices=["code-server", "ui"], help="start one piece only: a shard's code server, or the UI host"
    )
    up.add_argument(
        "--shard", type=shard_arg, metavar="i/n", help="the shard a code server serves (with --only code-server)"
    )
    up.add_argument("--host", default="127.0.0.1", help="the address this piece's servers bind (default 127.0.0.1)")
    up.add_argument(
        "--port", type=int, help="the code server's port (default: HONEYFRAME_CODE_SERVER_PORT + shard index)"
    )
    up.set_defaults(func=cmd_up)
    shards = commands.add_parser(
        "shards",
        help="how many code locations split the projects, and their sizes; `--set N` changes it",
        description="Show the number of code locations the projects are split over (kept in the store) and the "
        "scenarios each serves; `--set N` changes the number (restart the code servers afterwards).",
    )
    shards.add_argument(
        "--set", dest="count", type=location_count_arg, metavar="N", help="split the projects over N code locations"
    )
    shards.set_defaults(func=cmd_shards)
    apply = commands.add_parser(
        "apply",
        help="upsert YAML documents (files or directories), all or nothing",
        description="Create or update the documents (Project, Template, Matrix, Scenario, Dataset, Dashboard, "
        "Agent) in the files given, all or nothing, then tell a running system (its code locations reload and "
        "each trigger's status follows the documents).",
    )
    apply.add_argument("paths", nargs="+", metavar="PATH", help="a YAML file, or a directory of them")
    apply.add_argument(
        "--dry-run",
        action="store_true",
        help="check the documents and print what would be created, changed, enabled and disabled; write nothing",
    )
    apply.set_defaults(func=cmd_apply)
    commands.add_parser(
        "list",
        help="what the factory builds: job, trigger, status",
        description="One line per scenario and template instance: its Dagster job, its trigger in words and "
        "whether it runs, or why it cannot be built (ERROR).",
    ).set_defaults(func=cmd_list)
    backfill = commands.add_parser(
        "backfill",
        help="queue runs for a cron scenario's past instants (wraps `dagster job backfill`)",
        description="Queue one run per schedule instant of SCENARIO from --from to --to (inclusive); the Dagster "
        "daemon launches them. SCENARIO is a job name as `honeyframe list` prints it, or PROJECT/NAME.",
    )
    backfill.add_argument("scenario", metavar="SCENARIO", help="a job name (acme_sales__nightly) or PROJECT/NAME")
    backfill.add_argument("--from", dest="start", required=True, help="first instant or day, ISO 8601 (2026-11-01)")
    backfill.add_argument("--to", dest="end", required=True, help="last instant or day, ISO 8601, inclusive")
    backfill.add_argument("--dry-run", action="store_true", help="print the partitions, queue nothing")
    backfill.set_defaults(func=cmd_backfill)
    mailsink = commands.add_parser(
        "mailsink",
        help="a local SMTP server that stores messages as .eml files",
        description="Receive mail on SMTP and save each message as an .eml file (what `up` starts when "
        "HONEYFRAME_SMTP_HOST is not set).",
    )
    mailsink.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    mailsink.add_argument("--port", type=int, default=None, help="the port to listen on (default HONEYFRAME_SMTP_PORT)")
    mailsink.add_argument("--dir", default=None, help="where messages are saved (default $HONEYFRAME_HOME/mail)")
    mailsink.set_defaults(func=cmd_mailsink)
    token = commands.add_parser(
        "token", help="API tokens: create, list, revoke", description="The tokens the REST API and admin pages accept."
    ).add_subparsers(dest="token_command", required=True, metavar="ACTION")
    token_create = token.add_parser(
        "create",
        help="create an API token (printed once)",
        description="Create a token, admin (org-wide) or for projects; it is printed once and stored hashed.",
    )
    token_create.add_argument("--name", required=True, help="a unique name for the token (who or what uses it)")
    scope = token_create.add_argument_group("scope (one of)")
    scope.add_argument("--admin", action="store_true", help="org-wide: templates, the enable matrix, every project")
    scope.add_argument("--project", action="append", default=[], help="a project the token may act on (repeatable)")
    token_create.add_argument("--expires-in", type=expiry_days, metavar="DAYS", help="expire after DAYS days")
    token_create.set_defaults(func=cmd_token_create)
    token.add_parser(
        "list",
        help="name, scope, created, last used, expiry (never the secret)",
        description="Every token: name, scope, created, last used and expiry (never the secret).",
    ).set_defaults(func=cmd_token_list)
    token_revoke = token.add_parser(
        "revoke", help="delete a token: it no longer authenticates", description="Delete a token by its name."
    )
    token_revoke.add_argument("name", metavar="NAME", help="the token's name, as `token list` shows it")
    token_revoke.set_defaults(func=cmd_token_revoke)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

    from honeyframe_dagster.legacy.drift import SchemaDriftError
    from honeyframe_dagster.store.engine import describe_outage, store_unavailable

    try:
        return int(args.func(args))
    except (SchemaDriftError, HomeUnusable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (DBAPIError, SQLAlchemyTimeoutError) as exc:
        if not store_unavailable(exc):
            raise
        print(f"error: the store cannot be reached: {describe_outage(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
