"""The delivery log as CSV, streamed row by row, safe to open in a spreadsheet."""

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

from analytics.selectors import CSV_COLUMNS
from kit.spreadsheet import neutralise


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(CSV_COLUMNS)  # the BOM makes Excel read UTF-8
    for row in rows:
        yield writer.writerow([neutralise(v) for v in row])


def csv_response(rows: Iterable[tuple], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
