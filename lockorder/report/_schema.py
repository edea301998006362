"""The documented report and baseline schemas (docs/report-schema.md), checked on load.

Every command reads a report through :func:`lockorder.report.load` (a baseline
through :func:`lockorder._project.read_baseline`), which checks it here once, so
no command meets a field of the wrong type later. A field is checked when it is
present; the fields the readers cannot do without are required. Keys the schema
does not name are let through (fields may be added within a version), as is any
string as a finding's ``kind``. :func:`check` names the first field that is wrong
as a path (``findings[0].locks[1].site``), for a one-line error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["SchemaError", "check_baseline", "check_report", "summary_counts"]


class SchemaError(ValueError):
    """A field of the wrong type or value, or a required field missing: ``str()``
    names the field (``findings[0].kind must be a string (got 5)``)."""


Spec = Callable[[Any, str], None]


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _fail(path: str, expected: str, value: Any) -> SchemaError:
    return SchemaError(f"{path} must be {expected} (got {_shown(value)})")


def _is(what: str, test: Callable[[Any], bool], nullable: bool = False) -> Spec:
    expected = f"{what} or null" if nullable else what

    def check(value: Any, path: str) -> None:
        if not (test(value) or (nullable and value is None)):
            raise _fail(path, expected, value)

    return check


def _str(value: Any) -> bool:
    return isinstance(value, str)


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


STRING = _is("a string", _str)
STRING_OR_NULL = _is("a string", _str, nullable=True)
INT = _is("an integer", _int)
NUMBER = _is("a number", _number)
BOOL = _is("true or false", lambda value: isinstance(value, bool))


def _one_of(*values: str) -> Spec:
    expected = "one of " + ", ".join(json.dumps(value) for value in values)

    def check(value: Any, path: str) -> None:
        if value not in values or not isinstance(value, str):
            raise _fail(path, expected, value)

    return check


def _array(item: Spec, nullable: bool = False) -> Spec:
    def check(value: Any, path: str) -> None:
        if nullable and value is None:
            return
        if not isinstance(value, list):
            raise _fail(path, "an array" + (" or null" if nullable else ""), value)
        for number, element in enumerate(value):
            item(element, f"{path}[{number}]")

    return check


def _map(item: Spec) -> Spec:
    """An object whose keys are free and whose values are ``item``."""

    def check(value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _fail(path, "an object", value)
        for key, element in value.items():
            item(element, f"{path}.{key}")

    return check


def _object(
    fields: dict[str, Spec], required: tuple[str, ...] = (), nullable: bool = False
) -> Spec:
    def check(value: Any, path: str) -> None:
        if nullable and value is None:
            return
        if not isinstance(value, dict):
            raise _fail(path, "an object" + (" or null" if nullable else ""), value)
        for key in required:
            if key not in value:
                raise SchemaError(f"{path}.{key} is missing" if path else f"{key} is missing")
        for key, spec in fields.items():
            if key in value:
                spec(value[key], f"{path}.{key}" if path else key)

    return check


def _frame(value: Any, path: str) -> None:
    """``[file, line, function]``."""
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not (_str(value[0]) and _int(value[1]) and _str(value[2]))
    ):
        raise _fail(path, "a frame [file, line, function]", value)


def _frame_or_null(value: Any, path: str) -> None:
    if value is not None:
        _frame(value, path)


FRAMES = _array(_frame)

LOCK = _object(
    {
        "key": STRING,
        "site": STRING,
        "name": STRING_OR_NULL,
        "kind": STRING,
        "function": STRING,
        "instance": STRING,
        "via": STRING_OR_NULL,
    },
    required=("key", "site"),
)

CYCLE_EDGE = _object(
    {
        "from": LOCK,
        "to": LOCK,
        "thread": STRING,
        "threads": _array(STRING),
        "stack": FRAMES,
        "held": _array(STRING),
        "held_at": _array(_frame_or_null),
        "thread_started_at": _array(_frame_or_null, nullable=True),
        "test": STRING_OR_NULL,
        "tests": _array(STRING),
        "holder": STRING,
    },
    required=("from", "to", "thread"),
)

PAUSE = _object(
    {
        "edge": INT,
        "edges": _array(INT),
        "thread": STRING,
        "held": STRING,
        "want": STRING,
        "site": STRING_OR_NULL,
        "paused_s": NUMBER,
        "outcome": STRING,
        "why": STRING,
    }
)


def _finding(value: Any, path: str) -> None:
    FINDING(value, path)


CONFIRMATION = _object(
    {
        "status": _one_of("confirmed", "not-confirmed", "not-reached", "not-attempted"),
        "reason": STRING,
        "attempts": INT,
        "seconds": NUMBER,
        "command": STRING,
        "deadlock": _finding,
        "pauses": _array(PAUSE),
    },
    required=("status",),
)

FINDING = _object(
    {
        "kind": STRING,
        "severity": _one_of("error", "warning"),
        "message": STRING,
        "locks": _array(LOCK),
        "thread": STRING,
        "holder": STRING,
        "stack": FRAMES,
        "cycle": _array(CYCLE_EDGE),
        "reason": STRING,
        "single_thread": BOOL,
        "test": STRING_OR_NULL,
        "signature": STRING,
        "details": _array(STRING),
        "confirmation": CONFIRMATION,
    },
    required=("kind", "severity", "message"),
)

CLASS = _object(
    {
        "key": STRING,
        "site": STRING,
        "file": STRING,
        "line": INT,
        "function": STRING,
        "name": STRING_OR_NULL,
        "kind": STRING,
        "created": INT,
        "signal": BOOL,
        "shared": BOOL,
        "via": _object(
            {"site": STRING, "file": STRING, "line": INT, "function": STRING},
            required=("site", "file", "line", "function"),
            nullable=True,
        ),
    },
    required=("key", "site", "file", "line", "function", "name", "kind"),
)

GRAPH_EDGE = _object(
    {
        "from": STRING,
        "to": STRING,
        "thread": STRING,
        "holder": STRING,
        "threads": _array(STRING),
        "thread_ids": _array(STRING),
        "thread_count": INT,
        "held": _array(STRING),
        "held_at": _array(_frame_or_null),
        "thread_started_at": _array(_frame_or_null, nullable=True),
        "stack": FRAMES,
        "test": STRING_OR_NULL,
        "tests": _array(STRING),
        "gates": _array(STRING),
        "gated": BOOL,
        "ordered": BOOL,
    },
    required=("from", "to"),
)


def _graph(value: Any, path: str) -> None:
    _object({"classes": _array(CLASS), "edges": _array(GRAPH_EDGE)}, required=("classes", "edges"))(
        value, path
    )
    keys = {cls["key"] for cls in value.get("classes", ())}
    for number, edge in enumerate(value.get("edges", ())):
        for end in ("from", "to"):
            if edge[end] not in keys:
                raise _fail(
                    f"{path}.edges[{number}].{end}",
                    "the key of a class of graph.classes",
                    edge[end],
                )


REPORT = _object(
    {
        "tool": _object({"name": STRING, "version": STRING}),
        "created": STRING,
        "python": STRING,
        "cwd": STRING,
        "settings": _map(lambda value, path: None),
        "run": _object(
            {
                "command": _array(STRING),
                "exit_status": _is("an integer", _int, nullable=True),
                "lockorder_exit_status": _is("an integer", _int, nullable=True),
                "pytest": BOOL,
                "workers": _array(STRING),
                "crashed_workers": _map(STRING),
                "rootdir": STRING,
                "rerun_options": _array(STRING),
                "merged": _array(STRING),
            }
        ),
        "summary": _object(
            {
                "findings": INT,
                "errors": INT,
                "warnings": INT,
                "by_kind": _map(INT),
                "confirmed": INT,
                "classes": INT,
                "edges": INT,
            }
        ),
        "findings": _array(FINDING),
        "suppressed": _array(
            _object({"rule": STRING, "finding": FINDING}, required=("rule", "finding"))
        ),
        "stale_suppressions": _array(STRING),
        "graph": _graph,
    },
)

#: every writer writes them; without them a report would read as clean (checked
#: after the fields present, which say more)
REPORT_REQUIRED = ("findings", "graph")

BASELINE = _object(
    {
        "findings": _array(
            _object(
                {
                    "fingerprint": STRING,
                    "kind": STRING,
                    "message": STRING,
                    "locks": _array(STRING),
                },
                required=("fingerprint",),
            )
        )
    }
)


def check_report(data: dict[str, Any]) -> None:
    """Raise :class:`SchemaError` naming the first field of the report ``data``
    (its ``format`` and ``version`` already checked) that the schema forbids."""
    REPORT(data, "")
    _object({}, required=REPORT_REQUIRED)(data, "")


def summary_counts(findings: list[dict[str, Any]], graph: dict[str, Any]) -> dict[str, Any]:
    """A report's ``summary``, counted from its findings and graph (finding
    dicts: checked, or written by this lockorder). Readers count, never trust a
    file's summary: it is a copy, which an edit of the findings leaves stale."""
    from lockorder._findings import KINDS

    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["kind"]] = counts.get(finding["kind"], 0) + 1
    # kinds in the order of KINDS, then any other (a later lockorder's)
    order = {kind: number for number, kind in enumerate(KINDS)}
    by_kind = {
        kind: counts[kind] for kind in sorted(counts, key=lambda k: order.get(k, len(order)))
    }
    return {
        "findings": len(findings),
        "errors": sum(1 for f in findings if f["severity"] == "error"),
        "warnings": sum(1 for f in findings if f["severity"] == "warning"),
        "by_kind": by_kind,
        "confirmed": sum(
            1 for f in findings if (f.get("confirmation") or {}).get("status") == "confirmed"
        ),
        "classes": len(graph.get("classes", ())),
        "edges": len(graph.get("edges", ())),
    }


def check_baseline(data: dict[str, Any]) -> None:
    """The same for a baseline file's content."""
    BASELINE(data, "")
