"""`honeyframe apply`: validation errors name file, document, field and value; all or nothing; idempotent."""

from __future__ import annotations

import re
import time

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from honeyframe_dagster.boot import boot
from honeyframe_dagster.settings import get_settings
from honeyframe_dagster.store.tables import ProjectRow, ScenarioRow, TemplateRow
from tests.conftest import PROJECTS_YAML, ApplyYaml, supported_contract_documents

SCENARIO = """
kind: Scenario
project: acme-sales
name: revenue
trigger: {cron: "0 6 * * *"}
steps:
  - kind: run_recipe
    recipe: mart_revenue
"""


def counts() -> tuple[int, int, int]:
    with Session(boot(get_settings())) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(t)) for t in (ProjectRow, TemplateRow, ScenarioRow)
        )


def test_contract_documents_apply_and_reapply_idempotently(apply_yaml: ApplyYaml, capsys) -> None:
    documents = supported_contract_documents()
    # The contract's Project grants one secret as an example; its other documents name more.
    named = sorted(set(re.findall(r"HONEYFRAME_SECRET_[A-Z0-9_]+", yaml.safe_dump_all(documents))))
    for document in documents:
        if document["kind"] == "Project":
            document["secrets"] = named
    # The contract's expand_from reads `dim_regions`, a table of the project's own (a dataset it syncs).
    regions = {"kind": "Dataset", "id": "regions", "project": "acme-sales", "table": "dim_regions"}
    documents.append({**regions, "connector": {"type": "file", "path": "examples/data/regions.csv"}})
    contract = yaml.safe_dump_all(documents)
    ops_project = "kind: Project\nid: acme-ops\nname: Ops\nowner_email: olaf@acme.example\n---\n"
    assert apply_yaml(ops_project + contract) == 0
    first = counts()
    assert first == (2, 1, 2)
    assert apply_yaml(ops_project + contract) == 0
    assert counts() == first


def test_reapplying_the_same_documents_writes_no_new_version_disabled_scenarios_included(apply_yaml: ApplyYaml) -> None:
    """A version is a change: writing a disabled scenario again as it is (its cadence starts when it is enabled)
    keeps its version, so its job is not rebuilt and no empty version shows in its history."""
    documents = SCENARIO + "\n---\n" + SCENARIO.replace("name: revenue", "name: paused\nenabled: false")
    assert apply_yaml(PROJECTS_YAML + "---\n" + documents) == 0

    def versions() -> dict[str, int | None]:
        with Session(boot(get_settings())) as session:
            return dict(session.execute(select(ScenarioRow.name, ScenarioRow.version)).tuples().all())

    first = versions()
    assert first == {"revenue": 1, "paused": 1}
    assert apply_yaml(PROJECTS_YAML + "---\n" + documents) == 0
    assert versions() == first
    # Enabling it restarts its cadence: a new version.
    assert apply_yaml(PROJECTS_YAML + "---\n" + documents.replace("enabled: false", "enabled: true")) == 0
    assert versions() == {"revenue": 1, "paused": 2}


def test_one_bad_document_writes_nothing(apply_yaml: ApplyYaml, capsys: pytest.CaptureFixture[str]) -> None:
    bad = SCENARIO.replace("name: revenue", "name: broken").replace('"0 6 * * *"', '"0 25 * * *"')
    text = "kind: Project\nid: acme-sales\nname: Acme\nowner_email: ana@acme.example\n---" + SCENARIO + "---" + bad
    assert apply_yaml(text) == 1
    err = capsys.readouterr().err
    assert "docs-0.yaml: document[2]: trigger.cron: invalid cron expression '0 25 * * *'" in err
    assert "nothing was applied" in err
    assert counts() == (0, 0, 0)


def test_reference_errors_are_checked_before_commit(apply_yaml: ApplyYaml, projects: None, capsys) -> None:
    unknown_recipe = SCENARIO.replace("mart_revenue", "mart_of_nothing")
    assert apply_yaml(SCENARIO.replace("name: revenue", "name: ok") + "---" + unknown_recipe) == 1
    err = capsys.readouterr().err
    assert "document[1]" in err and "steps[0].recipe: unknown recipe 'mart_of_nothing'" in err
    assert counts() == (2, 0, 0)
    matrix = "kind: Matrix\ntemplate: nope\nproject: acme-sales\n"
    assert apply_yaml(matrix) == 1
    assert "template: unknown template 'nope'" in capsys.readouterr().err


def test_matrix_missing_parameter_is_refused(
    apply_yaml: ApplyYaml, projects: None, capsys, contract_documents: list[dict]
) -> None:
    template = yaml.safe_dump(next(doc for doc in contract_documents if doc["kind"] == "Template"))
    matrix = "kind: Matrix\ntemplate: nightly-mart-refresh\nproject: acme-ops\nenabled: true\n"
    assert apply_yaml(template + "---\n" + matrix) == 1
    assert "parameter 'mart_recipe' of template 'nightly-mart-refresh' has no value" in capsys.readouterr().err
    assert counts() == (2, 0, 0)


def test_default_enabled_template_is_on_for_projects_created_after_it(apply_yaml: ApplyYaml, capsys) -> None:
    template = """
kind: Template
slug: kpis
display_name: KPIs
default_enabled: true
trigger: {cron: "0 7 * * *"}
steps: [{kind: run_recipe, recipe: mart_ops_kpis}]
"""
    assert apply_yaml("kind: Project\nid: before\nname: B\nowner_email: b@x.example\n") == 0
    assert apply_yaml(template) == 0
    assert apply_yaml("kind: Project\nid: after\nname: A\nowner_email: a@x.example\n") == 0
    with Session(boot(get_settings())) as session:
        cells = session.execute(
            select(ScenarioRow.project_id, ScenarioRow.enabled).where(ScenarioRow.template_slug == "kpis")
        ).all()
    assert cells == [("after", True)]


def test_unknown_kind_and_missing_file_are_clear(apply_yaml: ApplyYaml, capsys, tmp_path) -> None:
    assert apply_yaml("kind: Widget\nid: x\n") == 1
    assert "kind: unknown document kind 'Widget'" in capsys.readouterr().err
    from honeyframe_dagster.cli import main

    assert main(["apply", str(tmp_path / "missing.yaml")]) == 1
    assert "missing.yaml: no such file or directory" in capsys.readouterr().err


# Lists of 9 aliases of lists of 9 aliases …: ~650 bytes that expand to 9^7 strings for whatever walks the
# result (validation, JSON for the store). Today's `apply` refuses it at the first anchor.
ALIAS_BOMB = """kind: Scenario
project: acme-ops
name: bomb
trigger: {interval_seconds: 3600}
steps:
  - kind: run_python
    recipe: score_inventory
    args:
      a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
      b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
      c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
      d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
      e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
      f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
      g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
      h: [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


def test_yaml_anchors_and_aliases_are_refused_with_their_line(apply_yaml: ApplyYaml, projects: None, capsys) -> None:
    started = time.monotonic()
    assert apply_yaml(ALIAS_BOMB) == 1
    assert time.monotonic() - started < 5
    assert "not valid YAML: line 9: anchors and aliases are not allowed" in capsys.readouterr().err
    # Also the ordinary use, a merge key: an alias all the same.
    merged = SCENARIO + "---\n" + "x: &base {enabled: true}\n" + SCENARIO.replace("revenue", "other") + "<<: *base\n"
    assert apply_yaml(merged) == 1
    assert "anchors and aliases are not allowed" in capsys.readouterr().err


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(
    apply_yaml: ApplyYaml, projects: None, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HONEYFRAME_MAX_DOCUMENT_BYTES", "1000")
    padded = SCENARIO + "# " + "x" * 1000 + "\n"
    assert apply_yaml(padded) == 1
    assert "larger than HONEYFRAME_MAX_DOCUMENT_BYTES (1000 bytes); not read" in capsys.readouterr().err
    assert apply_yaml(SCENARIO) == 0


def test_format_characters_in_names_are_refused_naming_the_code_point(apply_yaml: ApplyYaml, capsys) -> None:
    project = 'kind: Project\nid: ops\nname: "Ops\\u200b"\nowner_email: ops@acme.example\n'
    assert apply_yaml(project) == 1
    assert "name: must be one line of printable text; U+200B at position 3 is not allowed" in capsys.readouterr().err
    assert apply_yaml(project.replace("\\u200b", "")) == 0


MALFORMED_NAMES = """
kind: Project
id: Acme_Sales
name: Acme Sales
owner_email: ana@acme.example
---
kind: Dataset
id: "orders!"
project: acme-ops
table: 2024_orders
connector: {type: http, url: "ftp://user:secret@files.example/orders.csv"}
---
kind: Scenario
project: acme-ops
name: malformed
trigger: {interval_seconds: 3600, expand_from: {sql: "select 1 as r", key: "region name"}}
steps:
  - {kind: run_python, recipe: "score-inventory"}
"""


def test_a_malformed_id_or_name_says_in_words_what_is_allowed(apply_yaml: ApplyYaml, capsys) -> None:
    assert apply_yaml(MALFORMED_NAMES) == 1
    err = capsys.readouterr().err
    lowercase = "must be 1 to 64 lowercase letters, digits and '-', not starting or ending with '-'"
    identifier = "must be 1 to 63 letters, digits and '_', not starting with a digit"
    for line in (
        f"document[0]: id: {lowercase} (value: 'Acme_Sales')",
        "document[1]: id: must be 1 to 128 letters, digits, '_', '.' and '-', starting with a letter or '_' "
        "(value: 'orders!')",
        f"document[1]: table: {identifier} (value: '2024_orders')",
        "document[1]: connector.url: must be an address starting with http:// or https:// "
        "(value: 'ftp://files.example/orders.csv')",
        f"document[2]: trigger.expand_from.key: {identifier} (value: 'region name')",
        "document[2]: steps[0].recipe: must be 1 to 128 letters, digits and '_', not starting with a digit "
        "(value: 'score-inventory')",
    ):
        assert line in err, (line, err)
    assert "pattern" not in err and "[a-z" not in err and "secret" not in err
