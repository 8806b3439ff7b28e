"""Secret values out of everything a step shows: its log, its failures, its metadata, a recipe's output.

A step may see secrets: the `HONEYFRAME_SECRET_*` variables its documents name (a connector URL with a password,
an agent's key, a recipe's `secrets`) and the credentials its resources hold (HONEYFRAME_AGENT_API_KEY,
HONEYFRAME_SMTP_PASSWORD). Their values (`Settings.secret_values`: every one the process has, so whatever the step
names is covered) are replaced by `***` wherever the step's text reaches Dagster:

- `redacting(fn)`, which `steps.context.step_op` wraps around every step kind's op: a filter on the op's log (the
  op's own lines and what Dagster Pipes logs for a recipe), the metadata of what the op yields or returns, and a
  failure's description and metadata (an exception whose text holds a secret becomes a Failure without it);
- `RedactingMessageReader`, the Pipes reader of `run_python`: every message of the recipe (logs, custom
  messages, its exception and traceback) before Dagster handles it;
- `Redactor.text` for what a step formats itself, before it is cut to length (a cut could split a secret).

Only exact values are found: a secret shorter than MIN_LENGTH characters is left alone (it would mask every
occurrence of a common word or number), and an encoded form (base64, URL-quoted) is not recognized.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from dagster import (
    AssetMaterialization,
    Failure,
    JsonMetadataValue,
    MarkdownMetadataValue,
    Output,
    PathMetadataValue,
    PipesTempFileMessageReader,
    RetryRequested,
    TextMetadataValue,
    UrlMetadataValue,
)

from honeyframe_dagster.settings import get_settings

if TYPE_CHECKING:
    from dagster import PipesMessageHandler
    from dagster_pipes import PipesParams

MASK = "***"
MIN_LENGTH = 4


@dataclass(frozen=True)
class Redactor:
    """Replaces each of `secrets` (longest first, so a secret inside another goes with it) by MASK."""

    secrets: tuple[str, ...]

    @classmethod
    def of(cls, values: frozenset[str] | set[str]) -> Redactor:
        return cls(tuple(sorted((v for v in values if len(v) >= MIN_LENGTH), key=len, reverse=True)))

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def value(self, value: Any) -> Any:
        """JSON-like data (a Pipes message, metadata's JSON) with every string redacted, keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if type(value) in (list, tuple):  # not a named tuple: Dagster's metadata values are some
            return [self.value(item) for item in value]
        return value

    def metadata(self, metadata: Mapping[str, Any]) -> dict[str, Any]:
        return {self.text(key): self._metadata_value(value) for key, value in metadata.items()}

    def _metadata_value(self, value: Any) -> Any:
        if isinstance(value, JsonMetadataValue):
            return JsonMetadataValue(self.value(value.data))
        if isinstance(value, TextMetadataValue | MarkdownMetadataValue | UrlMetadataValue | PathMetadataValue):
            return type(value)(self.text(str(value.value)))
        return self.value(value)

    def event(self, event: Any) -> Any:
        """What an op yields or returns, with its metadata redacted."""
        if isinstance(event, Output | AssetMaterialization) and event.metadata:
            return event.with_metadata(self.metadata(event.metadata))
        return event

    def exception(self, exc: Exception) -> Exception | None:
        """None when the exception (with its causes) shows no secret; else a Failure that says the same without
        them, keeping whether it may be retried."""
        if isinstance(exc, RetryRequested) or not self._shows_secret(exc):
            return None
        if isinstance(exc, Failure):
            return Failure(
                self.text(exc.description or ""),
                metadata=self.metadata(exc.metadata or {}),
                allow_retries=exc.allow_retries,
            )
        return Failure(self.text(f"{type(exc).__name__}: {exc}"))

    def _shows_secret(self, exc: BaseException | None) -> bool:
        seen: set[int] = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            texts = [str(exc), repr(exc.args)]
            if isinstance(exc, Failure):
                texts += [exc.description or "", repr(dict(exc.metadata or {}))]
            if any(self.text(text) != text for text in texts):
                return True
            exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        return False


def step_redactor() -> Redactor:
    """The secrets of this process's settings (read once per process, like every setting)."""
    return Redactor.of(get_settings().secret_values())


class _LogFilter(logging.Filter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redactor.text(record.getMessage()), ()
        return True


@contextmanager
def redacted_log(log: logging.Logger, redactor: Redactor) -> Iterator[None]:
    """Every line written to `log` (an op's `context.log`) meanwhile is redacted before any handler sees it."""
    log_filter = _LogFilter(redactor)
    log.addFilter(log_filter)
    try:
        yield
    finally:
        log.removeFilter(log_filter)


def redacting(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` (an op's function, `context` first) with its log, yielded or returned events and failures redacted.
    Dagster reads the signature through `functools.wraps`, so resources and context are passed as before."""

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(context: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            redactor = step_redactor()
            with redacted_log(context.log, redactor):
                try:
                    for event in fn(context, *args, **kwargs):
                        yield redactor.event(event)
                except Exception as exc:
                    replacement = redactor.exception(exc)
                    if replacement is None:
                        raise
                    raise replacement from None

        return generator

    @functools.wraps(fn)
    def function(context: Any, *args: Any, **kwargs: Any) -> Any:
        redactor = step_redactor()
        with redacted_log(context.log, redactor):
            try:
                return redactor.event(fn(context, *args, **kwargs))
            except Exception as exc:
                replacement = redactor.exception(exc)
                if replacement is None:
                    raise
                raise replacement from None

    return function


class _RedactingHandler:
    """Hands each Pipes message to Dagster's handler redacted; everything else goes to that handler as is."""

    def __init__(self, handler: PipesMessageHandler, redactor: Redactor) -> None:
        self._handler = handler
        self._redactor = redactor

    def handle_message(self, message: Any) -> None:
        self._handler.handle_message(self._redactor.value(message))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handler, name)


class RedactingMessageReader(PipesTempFileMessageReader):
    """Dagster's temp-file Pipes reader, redacting every message of the external process (logs, custom messages,
    the exception it closed with) before Dagster logs or keeps it."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    @contextmanager
    def read_messages(self, handler: PipesMessageHandler) -> Iterator[PipesParams]:
        redacting_handler = cast("PipesMessageHandler", _RedactingHandler(handler, self._redactor))
        with super().read_messages(redacting_handler) as params:
            yield params
