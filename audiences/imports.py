"""CSV contact import: detect the file's encoding and delimiter, then stream it in chunks.

Memory stays flat whatever the file size: the file is decoded incrementally, rows are upserted
in chunks with bulk SQL, and rejected rows are written to the error report as they come. A row
is imported whole or rejected whole, with its row number, the offending value and the reason.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import logging
import math
import os
import queue
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audiences.models import Contact, ImportJob
from audiences.selectors import attribute_types
from audiences.services import (
    MAX_ATTRIBUTE_KEYS,
    MAX_KEY_CHARS,
    ContactError,
    ContactRow,
    attribute_keys_record,
    attributes_check,
    contacts_upsert_rows,
)
from kit.enqueue import enqueue
from kit.leases import Lease
from kit.services import audit_record
from kit.spreadsheet import neutralise
from lineapi import LINE_ID_RE, normalize_line_id

CHUNK_ROWS = 5000
STALE_AFTER = datetime.timedelta(minutes=10)
RUN_IMPORT = "audiences.run_import"
# A running import stamps heartbeat_at at every flush; one silent for STALE_AFTER lost its worker.
IMPORT_LEASE = Lease(
    ImportJob,
    held=ImportJob.Status.RUNNING,
    stamp="heartbeat_at",
    seconds=STALE_AFTER.total_seconds(),
)
SAMPLE_BYTES = 64 * 1024
PREVIEW_ROWS = 5
INFER_ROWS = 100  # rows read to propose each column's type (the first PREVIEW_ROWS are shown)
MAX_FIELD_CHARS = 1024 * 1024  # the csv module's guard against a runaway quoted field
MAX_VALUE_CHARS = 10_000
BAD_TEXT_RE = re.compile("[\udc80-\udcff]")
INT_RE = re.compile(r"^[+-]?\d+$")
ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SLASH_DATE_RE = re.compile(r"^(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})$")
LEADING_ZERO_RE = re.compile(r"^[+-]?0\d")  # 0120…, 090…: codes and phone numbers, not numbers
LINE_ID_COLUMNS = ("line_id", "lineid", "line_user_id", "user_id")
DISPLAY_NAME_COLUMNS = ("display_name", "displayname", "name", "表示名")
TRUE = {"true", "t", "yes", "y", "1", "on"}
FALSE = {"false", "f", "no", "n", "0", "off"}

csv.field_size_limit(MAX_FIELD_CHARS)
logger = logging.getLogger(__name__)


class ImportFileError(ValueError):
    """The file as a whole cannot be imported (no header, unknown column, too large)."""


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, or Shift_JIS (cp932): the one that
    decodes the sample with fewer errors, UTF-8 on a tie."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    errors = {}
    for encoding in ("utf-8", "cp932"):
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        errors[encoding] = decoder.decode(sample, final=False).count("\ufffd")
    return "cp932" if errors["cp932"] < errors["utf-8"] else "utf-8"


def read_sample(raw: BinaryIO) -> bytes:
    """The bytes to decide the encoding on: the first SAMPLE_BYTES, or if those are plain ASCII
    (which UTF-8 and Shift_JIS decode alike), the first later block that is not, read block by
    block so that memory stays flat. A file that is ASCII throughout reads as UTF-8."""
    sample = raw.read(SAMPLE_BYTES)
    block = sample
    while block.isascii():
        block = raw.read(SAMPLE_BYTES)
        if not block:
            return sample
    # The block after an all-ASCII one starts on a character boundary in both encodings.
    return sample if block is sample else block + raw.read(SAMPLE_BYTES)


def detect_delimiter(first_line: str) -> str:
    return "\t" if first_line.count("\t") > first_line.count(",") else ","


def open_text(path: str, encoding: str) -> io.TextIOWrapper:
    # surrogateescape keeps undecodable bytes as markers, so one bad row is rejected alone.
    return open(path, encoding=encoding, errors="surrogateescape", newline="")


def inspect_file(path: str, encoding: str = "") -> dict:
    """Encoding (detected unless given), delimiter, header, the first rows and a proposed type
    per column, for the mapping page."""
    with open(path, "rb") as raw:
        sample = read_sample(raw) if not encoding else raw.read(SAMPLE_BYTES)
    if not sample.strip():
        raise ImportFileError("The file is empty.")
    encoding = encoding or detect_encoding(sample)
    with open_text(path, encoding) as text:
        first = text.readline()
        delimiter = detect_delimiter(first)
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = [clean_header(h) for h in next(reader, [])]
        except csv.Error as exc:
            raise ImportFileError(f"The header row cannot be read as CSV: {exc}.") from exc
        records = (row for row, _ in _records(reader) if row)
        rows = [row for _, row in zip(range(INFER_ROWS), records, strict=False)]
    if not any(header):
        raise ImportFileError("The first row must name the columns.")
    if any(BAD_TEXT_RE.search(h) for h in header):
        raise ImportFileError("The header row is not UTF-8 or Shift_JIS text.")
    return {
        "encoding": encoding,
        "delimiter": delimiter,
        "header": header,
        "preview": rows[:PREVIEW_ROWS],
        "types": {
            name: infer_column_type([r[i] for r in rows if len(r) > i])
            for i, name in enumerate(header)
            if name
        },
    }


def infer_column_type(values: list[str]) -> str:
    """The type to propose for a column from its first values: number, boolean or date when
    every non-empty value reads as one, else text."""
    values = [v.strip() for v in values if v.strip()]
    if not values:
        return ImportJob.ColumnType.TEXT
    for kind in (ImportJob.ColumnType.NUMBER, ImportJob.ColumnType.BOOLEAN):
        if all(_reads_as(v, kind) for v in values):
            return kind
    if all(_looks_like_date(v) and _reads_as(v, ImportJob.ColumnType.DATE) for v in values):
        return ImportJob.ColumnType.DATE
    return ImportJob.ColumnType.TEXT


def _reads_as(value: str, kind: str) -> bool:
    if kind == ImportJob.ColumnType.NUMBER and LEADING_ZERO_RE.match(value):
        return False
    try:
        convert(value, kind)
    except ValueError:
        return False
    return True


def _looks_like_date(value: str) -> bool:
    # convert() also takes other ISO forms (20240501); only propose what reads as a date.
    return bool(ISO_DATE_RE.match(value[:10]) or SLASH_DATE_RE.match(value))


def clean_header(name: str) -> str:
    return name.replace("\ufeff", "").strip()


def _column_key(name: str) -> str:
    return name.lower().replace(" ", "_").replace("-", "_")


def guess_line_id_column(header: list[str], preview: list[list[str]]) -> str:
    for name in header:
        if _column_key(name) in LINE_ID_COLUMNS:
            return name
    for index, name in enumerate(header):
        if preview and all(
            len(r) > index and LINE_ID_RE.match(normalize_line_id(r[index].strip()))
            for r in preview
        ):
            return name
    return header[0]


def guess_display_name_column(header: list[str], line_id_column: str) -> str:
    """The column that most likely holds display names, or "" for none."""
    for candidate in DISPLAY_NAME_COLUMNS:
        for name in header:
            if name != line_id_column and _column_key(name) == candidate:
                return name
    return ""


def column_types(*, inferred: dict[str, str]) -> dict[str, str]:
    """The type to start each column at: the catalogue's for a key it knows (an import never
    changes a known key's type unless the person chooses another), else the inferred one."""
    known = attribute_types(keys=list(inferred))
    return {
        column: known[column] if known.get(column) in ImportJob.ColumnType.values else kind
        for column, kind in inferred.items()
    }


def import_job_create(*, original_name: str, user, path: str = "", uploaded_file=None) -> ImportJob:
    """Register a file (a path on disk, or an upload saved under MEDIA_ROOT) and read what the
    mapping page needs. Raises ImportFileError if it is not a CSV file we can read."""
    job = ImportJob(original_name=original_name[:255], created_by=user, source_path=path)
    if uploaded_file is not None:
        job.file.save(os.path.basename(original_name) or "contacts.csv", uploaded_file, save=False)
    try:
        info = inspect_file(job.path)
    except (ImportFileError, UnicodeError) as exc:
        if job.file:
            job.file.delete(save=False)
        raise ImportFileError(str(exc)) from exc
    job.encoding, job.delimiter, job.header = info["encoding"], info["delimiter"], info["header"]
    job.bytes_total = os.path.getsize(job.path)
    line_id = guess_line_id_column(info["header"], info["preview"])
    display_name = guess_display_name_column(info["header"], line_id)
    # A proposal for the mapping page and the shell command, which may change it.
    job.mapping = {
        "line_id": line_id,
        "display_name": display_name,
        "attributes": {
            column: kind
            for column, kind in column_types(inferred=info["types"]).items()
            if column not in (line_id, display_name)
        },
    }
    job.save()
    return job


def import_job_preview(*, job: ImportJob) -> list[list[str]]:
    return inspect_file(job.path, job.encoding)["preview"]


def validate_mapping(*, header: list[str], mapping: dict) -> dict:
    line_id = mapping.get("line_id")
    if line_id not in header:
        raise ImportFileError(
            f"The file has no column {line_id!r} for the line id; it has: {', '.join(header)}."
        )
    display_name = mapping.get("display_name") or ""
    if display_name and display_name not in header:
        raise ImportFileError(f"The file has no column {display_name!r}.")
    attributes = mapping.get("attributes") or {}
    if len(attributes) > MAX_ATTRIBUTE_KEYS:
        raise ImportFileError(f"At most {MAX_ATTRIBUTE_KEYS} attribute columns per contact.")
    for column, kind in attributes.items():
        if len(column) > MAX_KEY_CHARS:
            raise ImportFileError(
                f"Column {column[:40]!r}…: an attribute name is at most {MAX_KEY_CHARS} characters."
            )
        if column not in header:
            raise ImportFileError(f"The file has no column {column!r}.")
        if kind not in ImportJob.ColumnType.values:
            raise ImportFileError(f"Column {column!r}: unknown type {kind!r}.")
    return {"line_id": line_id, "display_name": display_name, "attributes": attributes}


def import_job_start(*, job: ImportJob, mapping: dict, replace_attributes: bool, user) -> ImportJob:
    """Save the column choices and queue the import (after the transaction commits)."""
    job.mapping = validate_mapping(header=job.header, mapping=mapping)
    job.replace_attributes = replace_attributes
    job.status = ImportJob.Status.QUEUED
    job.save(update_fields=["mapping", "replace_attributes", "status"])
    audit_record(
        actor=user,
        action="contact.import",
        target=job,
        details={"file": job.original_name, "replace_attributes": replace_attributes},
    )
    transaction.on_commit(lambda: enqueue(RUN_IMPORT, job.pk))
    return job


def imports_requeue_stale(*, older_than: datetime.timedelta = STALE_AFTER) -> int:
    """Re-queue running imports whose worker died (no heartbeat for a while). Upserts are
    idempotent, so the rerun starts from the top; rows done before count as updates."""
    released = IMPORT_LEASE.sweep(
        {
            "status": ImportJob.Status.QUEUED,
            "rows_read": 0,
            "created": 0,
            "updated": 0,
            "rejected": 0,
            "bytes_read": 0,
        },
        seconds=older_than.total_seconds(),
        on_release=lambda job: transaction.on_commit(lambda pk=job.pk: enqueue(RUN_IMPORT, pk)),
    )
    return len(released)


def convert(value: str, kind: str) -> object:
    """A cell as the column's type; raises ValueError with a reason."""
    if kind == ImportJob.ColumnType.TEXT:
        return value
    if kind == ImportJob.ColumnType.NUMBER:
        if INT_RE.match(value):
            return int(value)
        try:
            number = float(value) if "_" not in value else None
        except ValueError:
            number = None
        if number is None:
            raise ValueError("is not a number")
        if not math.isfinite(number):
            raise ValueError("is not a finite number")
        return number
    if kind == ImportJob.ColumnType.BOOLEAN:
        lowered = value.lower()
        if lowered in TRUE:
            return True
        if lowered in FALSE:
            return False
        raise ValueError("is not true/false (or yes/no, 1/0)")
    return _convert_date(value)


def _convert_date(value: str) -> str:
    if len(value) == 10 and ISO_DATE_RE.match(value):
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("is not a date (use YYYY-MM-DD)") from None
    match = SLASH_DATE_RE.match(value)
    try:
        if match:
            return datetime.date(*(int(part) for part in match.groups())).isoformat()
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("is not a date (use YYYY-MM-DD)") from None
    if len(value) <= 10:
        return moment.date().isoformat()
    return moment.isoformat()


class _Report:
    """The error report, written as rejections come; created on the first one."""

    def __init__(self, job: ImportJob) -> None:
        self.job, self.file, self.writer, self.name = job, None, None, ""

    def add(self, row: int, value: str, reason: str) -> None:
        if self.writer is None:
            self.name = f"imports/errors/import-{self.job.pk}-errors.csv"
            path = Path(settings.MEDIA_ROOT) / self.name
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = open(path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
            self.writer = csv.writer(self.file)
            self.writer.writerow(["row", "value", "reason"])
        if len(value) > 200:
            value = value[:200] + "…"
        cells = [row, BAD_TEXT_RE.sub("\ufffd", value), reason]
        self.writer.writerow([neutralise(cell) for cell in cells])

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _records(reader) -> Iterator[tuple[list[str] | None, str]]:
    """Each record, or (None, reason) for one the csv module could not read."""
    while True:
        try:
            yield next(reader), ""
        except StopIteration:
            return
        except csv.Error as exc:
            yield None, f"unreadable CSV row: {exc}"


def import_run(*, job: ImportJob) -> ImportJob:
    """Run a queued import to the end. Claims the job first: a second run does nothing."""
    now = timezone.now()
    claimed = IMPORT_LEASE.claim(
        {"pk": job.pk, "status": ImportJob.Status.QUEUED}, now=now, started_at=now
    )
    if claimed != 1:
        return job
    report = _Report(job)
    try:
        _stream(job, report)
    except Exception as exc:  # the job must end failed, whatever stopped it
        if not isinstance(exc, OSError | ImportFileError | UnicodeError):
            logger.exception("import %s failed", job.pk)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED,
            error_message=str(exc)[:2000] or exc.__class__.__name__,
            finished_at=timezone.now(),
        )
    else:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.COMPLETED,
            error_report=report.name,
            bytes_read=F("bytes_total"),
            finished_at=timezone.now(),
        )
    finally:
        report.close()
    job.refresh_from_db()
    return job


def _stream(job: ImportJob, report: _Report) -> None:
    """Parse in a thread while this one writes to the database, so the two overlap.

    The queue holds at most two chunks, which keeps memory flat. The parser never touches the
    database (it has no connection of its own); this thread does all the writes."""
    mapping = validate_mapping(header=job.header, mapping=job.mapping)
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    parser = threading.Thread(
        target=_parse_file, args=(job, mapping, report, chunks, stop), daemon=True
    )
    parser.start()
    totals = {"created": 0, "updated": 0}
    try:
        while (item := chunks.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            rows, counts, bytes_read = item
            _flush(job, rows, totals, counts, bytes_read)
    finally:
        stop.set()
        while not chunks.empty():
            chunks.get_nowait()
        parser.join(timeout=10)
    attribute_keys_record(types=dict(mapping["attributes"].items()), chosen=True)


def _parse_file(
    job: ImportJob, mapping: dict, report: _Report, out: queue.Queue, stop: threading.Event
) -> None:
    def put(item: object) -> None:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    try:
        header, width = job.header, len(job.header)
        line_col = header.index(mapping["line_id"])
        name_col = header.index(mapping["display_name"]) if mapping["display_name"] else None
        attr_cols = [(n, header.index(n), kind) for n, kind in mapping["attributes"].items()]
        counts = {"rows_read": 0, "rejected": 0}
        chunk: list[ContactRow] = []
        with open(job.path, "rb") as raw:
            text = io.TextIOWrapper(
                raw, encoding=job.encoding, errors="surrogateescape", newline=""
            )
            reader = csv.reader(text, delimiter=job.delimiter or ",")
            next(reader, None)
            row_number = 1  # as a spreadsheet numbers rows: the header is 1, blank lines count
            for record, error in _records(reader):
                row_number += 1
                if record is not None and not any(cell.strip() for cell in record):
                    continue  # a blank line is no contact, nor an error
                counts["rows_read"] += 1
                row, value, reason = _parse(record, error, width, line_col, name_col, attr_cols)
                if row is None:
                    counts["rejected"] += 1
                    report.add(row_number, value, reason)
                else:
                    chunk.append(row)
                if len(chunk) >= CHUNK_ROWS:
                    put((chunk, dict(counts), raw.tell()))
                    chunk = []
                    if stop.is_set():
                        return
            put((chunk, dict(counts), raw.tell()))
        put(None)
    except BaseException as exc:  # handed to the writing thread, which raises it
        put(exc)


def _parse(
    record: list[str] | None,
    error: str,
    width: int,
    line_col: int,
    name_col: int | None,
    attr_cols: list[tuple[str, int, str]],
) -> tuple[ContactRow | None, str, str]:
    """A record as a ContactRow, or (None, offending value, reason)."""
    if record is None:
        return None, "", error
    if len(record) != width and not (
        len(record) > width and not any(c.strip() for c in record[width:])
    ):
        return None, _joined(record), f"has {len(record)} fields; the header has {width}"
    if BAD_TEXT_RE.search("".join(record)):
        bad = next(cell for cell in record if BAD_TEXT_RE.search(cell))
        return None, bad, "is not valid UTF-8 or Shift_JIS text"
    line_id = normalize_line_id(record[line_col].strip())
    if not LINE_ID_RE.match(line_id):
        return None, line_id, "line_id must be U, C or R followed by 32 hex digits"
    attributes: dict = {}
    for name, index, kind in attr_cols:
        cell = record[index].strip()
        if not cell:
            continue
        if len(cell) > MAX_VALUE_CHARS:
            return None, cell, f"{name}: longer than {MAX_VALUE_CHARS:,} characters"
        try:
            attributes[name] = convert(cell, kind)
        except ValueError as exc:
            return None, cell, f"{name}: {exc}"
    try:
        attributes_check(attributes)
    except ContactError as exc:
        key = exc.field.removeprefix("attributes.")
        return None, str(attributes.get(key, "")), exc.reason
    display_name = record[name_col].strip()[:255] if name_col is not None else ""
    return ContactRow(line_id, display_name, attributes), "", ""


def _joined(record: list[str]) -> str:
    return ",".join(record)


def _flush(
    job: ImportJob, rows: list[ContactRow], totals: dict, counts: dict, bytes_read: int
) -> None:
    if rows:
        created, updated = contacts_upsert_rows(
            rows=rows,
            source=Contact.Source.IMPORT,
            replace_attributes=job.replace_attributes,
            import_job_id=job.pk,
        )
        totals["created"] += created
        totals["updated"] += updated
    IMPORT_LEASE.renew(job.pk, bytes_read=bytes_read, **counts, **totals)
