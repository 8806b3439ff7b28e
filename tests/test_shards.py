"""Shards: a project's code location is stable as projects are added, the count is chosen once and kept in the
store, and a code server started for another count refuses to load."""

from __future__ import annotations

import zlib

import pytest
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot, shard_scenarios
from honeyframe_dagster.cli import main as honeyframe
from honeyframe_dagster.model.naming import location_name, shard_of
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.shards import ShardCountMismatch, choose_count, save_count, shard_sizes, stored_count
from tests.conftest import ApplyYaml


def project_yaml(ids: list[str]) -> str:
    return "\n---\n".join(f"kind: Project\nid: {i}\nname: {i}\nowner_email: o@example.com" for i in ids)


def test_a_projects_shard_is_stable_as_projects_are_added() -> None:
    before = {f"project-{n}": location_name(f"project-{n}", 8) for n in range(500)}
    # Adding 1,500 projects moves none of the first 500: the shard depends on the project id and the count only.
    after = {f"project-{n}": location_name(f"project-{n}", 8) for n in range(2_000)}
    assert {p: after[p] for p in before} == before
    # crc32, the same in every process and on every machine (never Python's salted hash()).
    assert shard_of("acme-sales", 8) == zlib.crc32(b"acme-sales") % 8
    assert len({shard_of(f"project-{n}", 8) for n in range(2_000)}) == 8
    assert location_name("acme-sales", 1) == "honeyframe"
    assert location_name("acme-sales", 8) == f"honeyframe_{zlib.crc32(b'acme-sales') % 8}"


def test_the_count_is_chosen_once_and_grows_only_by_the_rule(store_url: str, apply_yaml: ApplyYaml) -> None:
    engine = boot(get_settings())
    assert apply_yaml(project_yaml([f"p{n}" for n in range(3)])) == 0
    first = choose_count(engine, None, per_location=1, may_grow=True)
    assert (first.count, first.previous) == (1, None)  # no scenario yet: one location
    scenarios = "\n---\n".join(
        f"kind: Scenario\nproject: p{n % 3}\nname: s{n}\ntrigger: {{cron: '0 2 * * *'}}\n"
        "steps: [{kind: run_python, recipe: pause}]"
        for n in range(5)
    )
    assert apply_yaml(scenarios) == 0
    # 5 pairs at 4 per location: within twice the target, so the stored count stays.
    assert choose_count(engine, None, per_location=4, may_grow=True).count == 1
    # At 2 per location the single location holds more than twice that: a full start grows it to ceil(5 / 2)...
    assert choose_count(engine, None, per_location=2, may_grow=False).count == 1
    grown = choose_count(engine, None, per_location=2, may_grow=True)
    assert (grown.count, grown.previous) == (3, 1) and "was 1" in grown.describe()
    # ...and never shrinks by itself; an explicit count (HONEYFRAME_CODE_LOCATIONS) is an operator's decision.
    assert choose_count(engine, None, per_location=500, may_grow=True).count == 3
    assert choose_count(engine, 2, per_location=500, may_grow=True).count == 2
    with Session(engine) as session:
        assert stored_count(session) == 2
        assert sum(shard_sizes(session, 2)) == 5


def test_a_code_server_for_another_count_refuses_to_load(hf_home: object, apply_yaml: ApplyYaml) -> None:
    scenarios = "".join(
        f"\n---\nkind: Scenario\nproject: {p}\nname: s\ntrigger: {{cron: '0 2 * * *'}}\n"
        "steps: [{kind: run_recipe, recipe: stg_orders}]"
        for p in ("acme-sales", "acme-ops")
    )
    assert apply_yaml(project_yaml(["acme-sales", "acme-ops"]) + scenarios) == 0
    engine = boot(get_settings())

    def served(shard: tuple[int, int] | None) -> set[str]:
        return {record.project_id for record in shard_scenarios(engine, shard).records}

    # Nothing stored yet (a test, `dagster dev`): any slice loads.
    assert shard_scenarios(engine, (0, 3)) is not None
    with Session(engine) as session, session.begin():
        save_count(session, 2)
    index = shard_of("acme-sales", 2)
    assert served((index, 2)) == {"acme-sales"}
    with pytest.raises(ShardCountMismatch, match=r"HONEYFRAME_SHARD=0/3: the store splits the projects over 2"):
        shard_scenarios(engine, (0, 3))
    # The unsharded location (workspace.yaml) serves every project whatever the count.
    assert served(None) == {"acme-sales", "acme-ops"}


def test_shards_command_shows_and_sets_the_count(
    hf_home: object, apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply_yaml(project_yaml(["acme-sales"])) == 0
    capsys.readouterr()
    assert honeyframe(["shards"]) == 0
    assert "code locations: 1 (not chosen yet" in capsys.readouterr().out
    assert honeyframe(["shards", "--set", "4"]) == 0
    out = capsys.readouterr().out
    assert "not chosen -> 4" in out and "honeyframe_3" in out
    with pytest.raises(SystemExit):
        honeyframe(["shards", "--set", "0"])
    assert "expected a whole number from 1 to 64, got '0'" in capsys.readouterr().err
