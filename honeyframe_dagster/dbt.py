"""The dbt project as every code location sees it: its manifest, the recipes it offers, its nodes' asset keys, and
`dbt` invocations through the dbt CLI (a subprocess).

Nothing here imports dbt or dagster-dbt: scenario locations and their run workers only read the manifest (JSON)
and run `dbt build` as a program. The dbt assets themselves live in the `warehouse` code location
(honeyframe_dagster/warehouse_definitions.py), whose translator gives the same keys as `asset_key`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from filelock import FileLock

from honeyframe_dagster.settings import DBT_PROJECT_DIR, child_environment

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
RECIPE_RESOURCE_TYPES = ("model", "seed", "snapshot")
# Tables that only dbt builds: no dataset may load into them (a dataset may stand in for a seed).
BUILT_RESOURCE_TYPES = ("model", "snapshot")
# The nodes an asset's lineage runs through: its dbt parents that are assets, and sources (dagster-dbt's upstreams).
UPSTREAM_RESOURCE_TYPES = (*RECIPE_RESOURCE_TYPES, "source")
PROJECT_INPUTS = ("models", "seeds", "macros", "snapshots", "dbt_project.yml", "profiles.yml")


def dbt_executable() -> str:
    # The dbt of this interpreter's environment, found even when the venv's bin/ is not on PATH.
    executable = Path(sys.executable).with_name("dbt")
    return str(executable) if executable.exists() else "dbt"


def dbt_env(target_path: Path) -> dict[str, str]:
    """dbt's environment: this project and profile, output under `target_path`, no telemetry, no colours."""
    return child_environment(
        {
            "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
            "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
            "DBT_TARGET_PATH": str(target_path),
            "DBT_LOG_PATH": str(target_path),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_USE_COLORS": "false",
        }
    )


def _stale(manifest: Path) -> bool:
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    inputs = [DBT_PROJECT_DIR / name for name in PROJECT_INPUTS]
    files = [f for p in inputs if p.exists() for f in ([p] if p.is_file() else p.rglob("*"))]
    return any(path.stat().st_mtime > built for path in files)


def ensure_manifest() -> Path:
    """Parse the dbt project when its manifest is missing or older than its files (one process at a time)."""
    if _stale(MANIFEST_PATH):
        MANIFEST_PATH.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(MANIFEST_PATH) + ".lock"):
            if _stale(MANIFEST_PATH):
                parsed = subprocess.run(
                    [dbt_executable(), "parse"],
                    env=dbt_env(MANIFEST_PATH.parent),
                    cwd=DBT_PROJECT_DIR,
                    capture_output=True,
                    text=True,
                )
                if parsed.returncode != 0:
                    raise RuntimeError(f"`dbt parse` of {DBT_PROJECT_DIR} failed:\n{parsed.stdout[-4000:]}")
    return MANIFEST_PATH


@cache
def load_manifest() -> dict[str, Any]:
    return json.loads(ensure_manifest().read_text())


def recipe_names(manifest: Mapping[str, Any]) -> frozenset[str]:
    """The names a `run_recipe` step may select: dbt models, seeds and snapshots."""
    return frozenset(
        node["name"] for node in manifest["nodes"].values() if node["resource_type"] in RECIPE_RESOURCE_TYPES
    )


def built_names(manifest: Mapping[str, Any]) -> frozenset[str]:
    """The tables only dbt writes: its models and snapshots (see model/tenancy.py)."""
    return frozenset(
        node["name"] for node in manifest["nodes"].values() if node["resource_type"] in BUILT_RESOURCE_TYPES
    )


def asset_key_path(node: Mapping[str, Any]) -> list[str]:
    """A dbt node's Dagster asset key, as the warehouse location's translator gives it (dagster-dbt's default,
    except that a source is the warehouse table that `sync_dataset` loads: its identifier)."""
    meta = node.get("config", {}).get("meta", {}) or node.get("meta", {})
    configured = meta.get("dagster", {}).get("asset_key", [])
    if configured:
        return list(configured)
    if node["resource_type"] == "source":
        return [node["identifier"]]
    if node.get("version"):
        return [node["alias"]]
    schema = node["config"].get("schema")
    return [schema, node["name"]] if schema is not None else [node["name"]]


def code_version(node: Mapping[str, Any]) -> str | None:
    """A node's code version as dagster-dbt's default translator gives it: the sha1 of its SQL, else dbt's checksum of
    its file (a seed's CSV). The warehouse location's assets declare it and `run_recipe` records it with each
    materialization, so Dagster compares like with like when it tells whether an asset is in sync."""
    code = node.get("raw_sql") or node.get("raw_code")
    if code:
        return hashlib.sha1(code.encode("utf-8"), usedforsecurity=False).hexdigest()
    checksum: str | None = node.get("checksum", {}).get("checksum")
    return checksum


def parent_key_paths(node: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """The asset keys a node's asset depends on, as in dagster-dbt's lineage: its direct parents that are models,
    seeds, snapshots or sources (the project has no ephemeral models, which dagster-dbt would look through)."""
    parents = [nodes[unique_id] for unique_id in node.get("depends_on", {}).get("nodes", []) if unique_id in nodes]
    return [asset_key_path(parent) for parent in parents if parent["resource_type"] in UPSTREAM_RESOURCE_TYPES]


def tested_key_path(test: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> list[str] | None:
    """The asset key whose check a dbt test is, as dagster-dbt names it: the node a generic test is attached to,
    or a singular test's only parent; None for a test over several nodes (dagster-dbt declares no check for it)."""
    upstream = test.get("depends_on", {}).get("nodes", [])
    attached: str | None = test.get("attached_node") or (upstream[0] if len(upstream) == 1 else None)
    return asset_key_path(nodes[attached]) if attached is not None and attached in nodes else None


def finish_invocation(invocation_target: Path) -> None:
    """After a dbt build: save its partial-parse state as the project's, so the next build with the same profile
    (warehouse path) skips dbt's full re-parse (every invocation is seeded from the project's copy), then remove
    the invocation's own target folder."""
    state = invocation_target / PARTIAL_PARSE_FILE
    if state.exists():
        staged = MANIFEST_PATH.with_name(f".{PARTIAL_PARSE_FILE}.{os.getpid()}")
        shutil.copyfile(state, staged)
        os.replace(staged, MANIFEST_PATH.with_name(PARTIAL_PARSE_FILE))
    shutil.rmtree(invocation_target, ignore_errors=True)


def invocation_target(label: str) -> Path:
    """A target folder of its own for one dbt invocation, seeded with the project's partial-parse state."""
    target = MANIFEST_PATH.parent / f"{label}-{uuid.uuid4().hex[:8]}"
    target.mkdir(parents=True)
    state = MANIFEST_PATH.with_name(PARTIAL_PARSE_FILE)
    if state.exists():
        shutil.copyfile(state, target / PARTIAL_PARSE_FILE)
    return target


@dataclass(frozen=True)
class NodeResult:
    """One node of a dbt invocation's results, with what Dagster records of it: the asset it is (models, seeds,
    snapshots) with its code version and parents, or the asset a test checks."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    asset_key: list[str]
    code_version: str | None
    parent_keys: list[list[str]]
    tested_key: list[str] | None
    execution_time: float
    message: str | None


@dataclass
class Invocation:
    """One `dbt` command run as a program: its output lines while it runs, then its results."""

    args: Sequence[str]
    target: Path
    returncode: int | None = None

    def stream(self) -> Iterator[str]:
        """Run the command and yield its output lines as they come."""
        process = subprocess.Popen(
            [dbt_executable(), *self.args],
            env=dbt_env(self.target),
            cwd=DBT_PROJECT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        with process:
            for line in process.stdout:
                yield line.rstrip("\n")
        self.returncode = process.returncode

    def results(self) -> list[NodeResult]:
        """The nodes dbt ran, in order, from this invocation's run_results.json and manifest.json."""
        run_results = self.target / "run_results.json"
        if not run_results.exists():
            return []
        manifest_path = self.target / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else load_manifest()
        nodes = {**manifest["nodes"], **manifest.get("sources", {})}
        results = []
        for result in json.loads(run_results.read_text())["results"]:
            node = nodes.get(result["unique_id"])
            if node is None:
                continue
            results.append(
                NodeResult(
                    unique_id=result["unique_id"],
                    name=node["name"],
                    resource_type=node["resource_type"],
                    status=result["status"],
                    asset_key=asset_key_path(node),
                    code_version=code_version(node),
                    parent_keys=parent_key_paths(node, nodes),
                    tested_key=tested_key_path(node, nodes) if node["resource_type"] == "test" else None,
                    execution_time=float(result.get("execution_time") or 0.0),
                    message=result.get("message"),
                )
            )
        return results
