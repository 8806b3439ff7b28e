"""`honeyframe`: apply documents to the store, list what the factory builds, start the stack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot
from honeyframe_dagster.documents_io import DocumentErrors, read_documents
from honeyframe_dagster.legacy.drift import SchemaDriftError
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.writes import ApplyError, apply_documents


def cmd_init(args: argparse.Namespace) -> int:
    boot(get_settings())
    print("store ready")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    from honeyframe_dagster.dbt import built_names, load_manifest, recipe_names

    try:
        located = read_documents(Path(p) for p in args.paths)
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
    manifest = load_manifest()
    with Session(engine) as session, session.begin():
        try:
            documents = [item.document for item in located]
            apply_documents(session, documents, recipe_names(manifest), dbt_built=built_names(manifest))
        except ApplyError as exc:
            session.rollback()
            print(f"error: {located[exc.index].where}: {exc}", file=sys.stderr)
            print("nothing was applied", file=sys.stderr)
            return 1
    print(f"applied {len(located)} document(s)")
    reload_running_locations()
    return 0


def reload_running_locations() -> None:
    """When `make run` is up, reload its code locations so the UI and the daemon see the change now."""
    from honeyframe_dagster.dagster_client import DagsterClient, DagsterUnavailable
    from honeyframe_dagster.factory.naming import location_names

    settings = get_settings()
    if not settings.dagster_url:
        return
    client = DagsterClient(settings.dagster_url)
    try:
        for location in location_names(settings.code_locations):
            client.reload(location)
        print("reloaded the Dagster code location")
    except DagsterUnavailable:
        print("Dagster is not running here: the code location shows the change when it next loads")
    finally:
        client.close()


def cmd_list(args: argparse.Namespace) -> int:
    from honeyframe_dagster.boot import shard_catalog
    from honeyframe_dagster.dbt import load_manifest, recipe_names
    from honeyframe_dagster.factory.plan import plan

    settings = get_settings()
    catalog = shard_catalog(boot(settings), settings.shard_slice)
    for entry in sorted(plan(catalog, recipe_names(load_manifest()), settings.shard_slice), key=lambda e: e.job_name):
        if entry.spec is None:
            print(f"{entry.job_name}\t-\tERROR\t{entry.error}")
        else:
            trigger = entry.spec.trigger.describe(entry.spec.timezone)
            print(f"{entry.job_name}\t{entry.trigger_name} ({trigger})\t{entry.status}")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from honeyframe_dagster.tokens import TokenError, create_token

    engine = boot(get_settings())
    with Session(engine) as session, session.begin():
        try:
            token = create_token(session, args.name, args.admin, args.project)
        except TokenError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(token)
    print("store this token now: it is not shown again", file=sys.stderr)
    return 0


def cmd_mailsink(args: argparse.Namespace) -> int:
    from honeyframe_dagster.mailsink import serve

    settings = get_settings()
    serve(args.host, args.port or settings.smtp_port, Path(args.dir) if args.dir else settings.home_dir / "mail")
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from honeyframe_dagster.stack import up

    return up()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="honeyframe", description="Honeyframe Scheduler on Dagster")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create or upgrade the store").set_defaults(func=cmd_init)
    commands.add_parser("up", help="start the whole system on this machine").set_defaults(func=cmd_up)
    apply = commands.add_parser("apply", help="upsert YAML documents (files or directories), all or nothing")
    apply.add_argument("paths", nargs="+")
    apply.set_defaults(func=cmd_apply)
    commands.add_parser("list", help="what the factory builds: job, trigger, status").set_defaults(func=cmd_list)
    mailsink = commands.add_parser("mailsink", help="a local SMTP server that stores messages as .eml files")
    mailsink.add_argument("--host", default="127.0.0.1")
    mailsink.add_argument("--port", type=int, default=None, help="default: HONEYFRAME_SMTP_PORT (8025)")
    mailsink.add_argument("--dir", default=None, help="default: $HONEYFRAME_HOME/mail")
    mailsink.set_defaults(func=cmd_mailsink)
    token = commands.add_parser("token", help="API tokens").add_subparsers(dest="token_command", required=True)
    token_create = token.add_parser("create", help="create an API token (printed once)")
    token_create.add_argument("--name", required=True)
    token_create.add_argument("--admin", action="store_true", help="may use admin endpoints (and every project)")
    token_create.add_argument("--project", action="append", default=[], help="a project the token may act on")
    token_create.set_defaults(func=cmd_token_create)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SchemaDriftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
