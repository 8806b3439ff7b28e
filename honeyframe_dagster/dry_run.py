"""`honeyframe apply --dry-run`: what an apply would create, change, enable and disable, told by running the same
write (store.service.apply) in a transaction that is rolled back, and comparing the store before and after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from honeyframe_dagster.store.tables import AgentRow, DashboardRow, DatasetRow, ProjectRow, ScenarioRow, TemplateRow

# One stored object: (what it is, how people name it) -> its state.
Snapshot = dict[tuple[str, str], Any]


def snapshot(session: Session) -> Snapshot:
    """Every project, template, dataset, dashboard, agent and scenario as this session sees it (writes flushed)."""
    session.flush()
    found: Snapshot = {}
    for project in session.scalars(select(ProjectRow)):
        found[("project", project.id)] = (project.name, project.owner_email, project.timezone, project.secrets)
    for template in session.scalars(select(TemplateRow)):
        found[("template", template.slug)] = (template.document, template.default_enabled)
    for noun, row_class in (("dataset", DatasetRow), ("dashboard", DashboardRow), ("agent", AgentRow)):
        rows = session.execute(select(row_class.project_id, row_class.id, row_class.document))
        for project_id, object_id, document in rows:
            found[(noun, f"{project_id}/{object_id}")] = document
    for scenario in session.scalars(select(ScenarioRow)):
        noun = f"template instance ({scenario.template_slug})" if scenario.template_slug else "scenario"
        state = (scenario.parameters, scenario.trigger, scenario.steps, scenario.owner)
        found[(noun, f"{scenario.project_id}/{scenario.name}")] = ScenarioState(state, scenario.enabled)
    return found


@dataclass(frozen=True)
class ScenarioState:
    content: Any
    enabled: bool


@dataclass
class Preview:
    """What the apply would do, one line per object."""

    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    enabled: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for verb, items in (
            ("create", self.created),
            ("change", self.changed),
            ("enable", self.enabled),
            ("disable", self.disabled),
        ):
            out += [f"would {verb} {item}" for item in items]
        return out or ["nothing would change"]


def compare(before: Snapshot, after: Snapshot) -> Preview:
    preview = Preview()
    for key in sorted(after, key=lambda k: (k[0], k[1])):
        noun, name = key
        label = f"{noun} {name}"
        new = after[key]
        old = before.get(key)
        if old is None:
            state = f" ({'enabled' if new.enabled else 'disabled'})" if isinstance(new, ScenarioState) else ""
            preview.created.append(label + state)
            continue
        if isinstance(new, ScenarioState) and isinstance(old, ScenarioState):
            if new.content != old.content:
                preview.changed.append(label)
            if new.enabled != old.enabled:
                (preview.enabled if new.enabled else preview.disabled).append(label)
        elif new != old:
            preview.changed.append(label)
    return preview
