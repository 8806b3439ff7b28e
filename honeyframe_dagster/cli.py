"""`honeyframe`: apply documents to the store, list what the factory builds, start the stack."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot
from honeyframe_dagster.documents_io import DocumentErrors, read_documents
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.writes import ApplyError, apply_documents


def cmd_init(args: argparse.Namespace) -> int:
    boot(get_settings())
    print("store ready")
    return 0


def cmd_apply(args: argparse.Namespace) -> int:
    from honeyframe_dagster.dbt import load_manifest, recipe_names

    try:
        located = read_documents(Path(p) for p in args.paths)
    except DocumentErrors as exc:
        for message in exc.messages:
            print(f"error: {message}", file=sys.stderr)
        print("nothing was applied", file=sys.stderr)
        return 1
    engine = boot(get_settings())
    recipes = recipe_names(load_manifest())
    with Session(engine) as session, session.begin():
        try:
            apply_documents(session, [item.document for item in located], recipes)
        except ApplyError as exc:
            session.rollback()
            print(f"error: {located[exc.index].where}: {exc}", file=sys.stderr)
            print("nothing was applied", file=sys.stderr)
            return 1
    print(f"applied {len(located)} document(s)")
    return 0


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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="honeyframe", description="Honeyframe Scheduler on Dagster")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create or upgrade the store").set_defaults(func=cmd_init)
    apply = commands.add_parser("apply", help="upsert YAML documents (files or directories), all or nothing")
    apply.add_argument("paths", nargs="+")
    apply.set_defaults(func=cmd_apply)
    commands.add_parser("list", help="what the factory builds: job, trigger, status").set_defaults(func=cmd_list)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
