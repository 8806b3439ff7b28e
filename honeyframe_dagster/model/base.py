"""A model whose optional fields are absent rather than null: in its JSON, and in its JSON schema.

A trigger is "exactly one of cron, interval_seconds, run_at, upstream", a run_recipe step "exactly one of recipe,
recipes". A schema that says every field may be null cannot express that, so client generators and fuzzers build
bodies the API must refuse. Here an unset optional field is left out of the output and its schema is not
nullable; `schema_one_of` states the alternatives as `oneOf` required sets. Input stays lenient: an explicit null
still means "not given".
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer


def _compact_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    properties = schema.get("properties", {})
    nullable = getattr(model, "schema_nullable", ())
    for name, field in model.model_fields.items():
        prop = properties.get(field.alias or name)
        if prop is None or field.is_required() or field.default is not None or name in nullable:
            continue
        alternatives = [s for s in prop.pop("anyOf", []) if s != {"type": "null"}]
        if len(alternatives) == 1:
            prop.update(alternatives[0])
        elif alternatives:
            prop["anyOf"] = alternatives
        prop.pop("default", None)
    one_of = getattr(model, "schema_one_of", ())
    if one_of:
        schema["oneOf"] = [dict(alternative) for alternative in one_of]
    examples = getattr(model, "schema_examples", ())
    if examples:
        schema["examples"] = [dict(example) for example in examples]


class CompactModel(BaseModel):
    """Optional fields that are None are omitted when dumped, and are not nullable in the JSON schema."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_compact_schema)
    # `oneOf` alternatives of the JSON schema, e.g. ({"required": ["recipe"]}, {"required": ["recipes"]}).
    schema_one_of: ClassVar[tuple[dict[str, Any], ...]] = ()
    # Optional fields whose null means something (e.g. "reset to the default"): they stay nullable.
    schema_nullable: ClassVar[tuple[str, ...]] = ()
    # Example bodies for the JSON schema (clients' docs, and schemathesis' examples phase).
    schema_examples: ClassVar[tuple[dict[str, Any], ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler):
        # No return annotation: pydantic then documents the output with the model's own schema.
        return {key: value for key, value in handler(self).items() if value is not None}
