"""The JSON report: build, write, load (with clear errors), and its text form.

The schema is documented in docs/report-schema.md; ``version`` changes when a
field changes meaning or disappears (fields may be added within a version).
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import itertools
import json
import os
import platform
import stat
import sys
from typing import Any

from lockorder import _sites
from lockorder._findings import Finding, split_suppressed, withdrawn_reasons
from lockorder._findings import findings_of as findings_of
from lockorder._findings import suppressed_dicts as suppressed_dicts
from lockorder._findings import suppressed_of as suppressed_of

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "ReportError",
    "WriteError",
    "build",
    "findings_of",
    "format_text",
    "load",
    "output_name",
    "read_json",
    "render",
    "write_json",
    "write_text",
]

#: the value of the report's "format" key
FORMAT = "lockorder-report"
SCHEMA_VERSION = 1


class ReportError(Exception):
    """A report file that cannot be used: names the file and what is wrong.

    Attributes:
        path: the file.
        problem: ``"unreadable"``, ``"corrupt"``, ``"not-a-report"`` or ``"version"``.
    """

    def __init__(self, path: str, problem: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.problem = problem


class WriteError(OSError):
    """A report file that cannot be written (an ``OSError`` naming that file,
    whatever step failed: its folder, the temporary file, the rename)."""


#: how a report's ``suppressed`` entry names a pytest test's ``lockorder`` marker
#: (``allow``) that allowed the finding: this, then the test's node id
MARKER_RULE = "lockorder marker allow of "


def settings_of(mode: str, single_thread: str) -> dict[str, Any]:
    """A report's ``settings``: the mode, the single-thread policy and the
    implementation of the hot path in use."""
    from lockorder._impl import implementation

    return {"mode": mode, "single_thread": single_thread, "implementation": implementation()}


def build(
    findings: list[Finding],
    graph: dict[str, Any],
    settings: dict[str, Any],
    run: dict[str, Any] | None = None,
    suppressed: list[tuple[str, Finding]] | None = None,
    stale: list[str] | None = None,
) -> dict[str, Any]:
    """The report as builtin types (what write_json writes)."""
    from lockorder._version import __version__
    from lockorder.report._schema import summary_counts

    items = [f.to_dict() for f in findings]
    return {
        "format": FORMAT,
        "version": SCHEMA_VERSION,
        "tool": {"name": "lockorder", "version": __version__},
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        #: the directory relative paths (sites, stack files) are relative to
        "cwd": _sites.refresh_cwd(),
        "settings": settings,
        "run": run or {},
        "summary": summary_counts(items, graph),
        "findings": items,
        "suppressed": suppressed_dicts(suppressed or ()),
        "stale_suppressions": list(stale or ()),
        "graph": graph,
    }


_temporaries = itertools.count()


def write_text(path: str, text: str) -> None:
    """Write a report to ``path``, whatever is there; every format's writer comes
    here (docs/reports.md, "Output paths").

    - ``-``: standard output.
    - A new file or a regular one: atomically (a temporary file beside it, renamed
      over it: a reader never sees half a file), its folder made if missing.
    - A symbolic link: through it, to the file it names (written as above; a
      dangling link's target is created): the link stays a link.
    - Anything else (a device, a FIFO, a descriptor's name such as /dev/stdout):
      opened and written in place, never truncated, renamed over or replaced.

    Raises:
        WriteError: it cannot be written (an OSError naming ``path``, whatever step
            failed: its folder, the temporary file, the rename, the write).
    """
    if path == "-":
        _write_stdout(text)
        return
    tmp = None
    try:
        target, in_place = _destination(path)
        if in_place:
            _write_in_place(target, text)
            return
        folder = os.path.dirname(target)
        try:
            os.makedirs(folder, exist_ok=True)
        except FileExistsError:  # a file where a folder of the path should be
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)) from None
        # one temporary file per write: two threads of a process writing the
        # same report (a live report's writer, the exit) never share one
        tmp = f"{target}.tmp-{os.getpid()}-{next(_temporaries)}"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        # the error names the path asked for, not the temporary file, a folder or
        # a link's target
        raise WriteError(exc.errno, exc.strerror, path) from None
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


def output_name(path: str) -> str:
    """How a message names an output path: ``-`` is standard output."""
    return "standard output" if path == "-" else path


#: folders whose entries name open file descriptors (/dev/stdout links there):
#: written in place, never renamed over
_DESCRIPTOR_FOLDERS = ("/proc", "/dev/fd")


def _destination(path: str) -> tuple[str, bool]:
    """The file writing ``path`` goes to (its symbolic links followed, each folder
    resolved), and whether it is written in place (not a regular file nor a new
    one, or reached through a descriptor's name)."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on links in a path
        folder = os.path.realpath(os.path.dirname(current))
        if any(folder == top or folder.startswith(top + "/") for top in _DESCRIPTOR_FOLDERS):
            return current, True
        current = os.path.join(folder, os.path.basename(current))
        if not os.path.islink(current):
            break
        current = os.path.join(folder, os.readlink(current))
    else:
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
    try:
        mode = os.stat(current).st_mode
    except FileNotFoundError:
        return current, False  # a new file
    if stat.S_ISDIR(mode):
        raise OSError(errno.EISDIR, "it is a folder")
    return current, not stat.S_ISREG(mode)


def _write_in_place(target: str, text: str) -> None:
    """Write to a device, a FIFO (waiting for its reader) or a descriptor's name:
    appended, so a file behind /dev/stdout keeps what is already in it."""
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()  # what this process printed comes first
    fd = os.open(target, os.O_WRONLY | os.O_APPEND)
    with open(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _write_stdout(text: str) -> None:
    """``-``: the same UTF-8 text a file would get, on standard output."""
    stream = sys.stdout
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(text)
            stream.flush()
            return
        stream.flush()
        buffer.write(text.encode("utf-8"))
        buffer.flush()
    except OSError as exc:
        raise WriteError(exc.errno, exc.strerror, "-") from None


def write_json(path: str, report: dict[str, Any]) -> None:
    """Write ``report`` as JSON to ``path`` (see :func:`write_text`)."""
    write_text(path, json.dumps(report, indent=1, sort_keys=False) + "\n")


def render(report: dict[str, Any], fmt: str, *, root: str | None = None) -> str:
    """``report`` as an HTML page (``fmt`` "html") or a SARIF log ("sarif", its
    paths relative to ``root``, by default the working directory): what
    ``lockorder report --format``, ``lockorder run --html/--sarif`` and the
    plugin's ``--lockorder-report`` write."""
    if fmt == "html":
        from lockorder.report.html import render_html

        return render_html(report)
    from lockorder.report.sarif import to_sarif

    return json.dumps(to_sarif(report, root=root), indent=1)


def read_json(path: str, what: str = "report") -> Any:
    """The JSON value in the file at ``path``, a lockorder ``what`` ("report" or
    "baseline"); :class:`ReportError` says what is wrong: unreadable, not UTF-8,
    empty, truncated or corrupt JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ReportError(path, "unreadable", f"cannot read the {what}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ReportError(path, "corrupt", f"not a lockorder {what} (not UTF-8 text)") from None
    if not text.strip():
        raise ReportError(path, "corrupt", f"empty file: no JSON, no {what} in it")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        kind = "truncated" if exc.pos >= len(text.rstrip()) else "corrupt"
        prefix = "" if what == "report" else f"corrupt {what}: "
        raise ReportError(
            path,
            "corrupt",
            f"{prefix}{kind} JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
        ) from None


def load(path: str) -> dict[str, Any]:
    """Read and validate a report; :class:`ReportError` says what is wrong."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ReportError(path, "not-a-report", "valid JSON but not a lockorder report")
    version = data.get("version")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise ReportError(
            path,
            "version",
            f"report schema version {version!r}; this lockorder reads version {SCHEMA_VERSION}",
        )
    # valid JSON that says it is a report but does not hold one: not a report
    # (a corrupt file is one that is not valid JSON). Checked here, once, so no
    # command meets a field of the wrong type later.
    from lockorder.report._schema import SchemaError, check_report, summary_counts

    try:
        check_report(data)
    except SchemaError as exc:
        raise ReportError(path, "not-a-report", f"not a lockorder report: {exc}") from None
    if "summary" in data:
        # a copy of counts, recounted: an edit of the findings (a finding deleted
        # by hand) leaves it stale, and nothing may read it stale
        data["summary"] = {**data["summary"], **summary_counts(data["findings"], data["graph"])}
    return data


def _count(number: Any, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def format_text(report: dict[str, Any], project_path: str = "") -> str:
    """The whole report as a person reads it: a summary line, then each finding.
    ``project_path``: the pyproject.toml whose [tool.lockorder] rules suppressed
    findings, to name in the summary (the report does not record it)."""
    from lockorder.report._schema import summary_counts

    findings = findings_of(report)
    # counted, not read from "summary": it may be absent (load() checks that a
    # summary present agrees)
    summary = summary_counts(report.get("findings", []), report.get("graph", {}))
    head = (
        f"lockorder: {summary['findings']} finding(s) "
        f"({summary['errors']} error(s), {summary['warnings']} warning(s)) "
        f"over {_count(summary['classes'], 'lock class', 'lock classes')} and "
        f"{_count(summary['edges'], 'edge', 'edges')}"
    )
    settings = report.get("settings", {})
    if settings:
        head += "\nlockorder settings: " + ", ".join(f"{k}={v}" for k, v in settings.items())
    withdrawn, by_rule = split_suppressed(suppressed_of(report))
    for count, why in withdrawn_reasons(withdrawn):
        head += (
            f"\nlockorder: {count} finding(s) withdrawn: {why} "
            "(listed under 'suppressed' in the JSON)"
        )
    markers = [entry for entry in by_rule if entry[0].startswith(MARKER_RULE)]
    by_rule = [entry for entry in by_rule if not entry[0].startswith(MARKER_RULE)]
    if by_rule:
        where = f"in {project_path}" if project_path else "rules"
        head += f"\nlockorder: {len(by_rule)} finding(s) suppressed by [tool.lockorder] {where}"
    if markers:
        head += f"\nlockorder: {len(markers)} finding(s) allowed by a test's lockorder marker"
    blocks = [head]
    for finding in findings:
        blocks.append(finding.format())
    return "\n\n".join(blocks)
