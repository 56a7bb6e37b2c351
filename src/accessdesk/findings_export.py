"""The findings a reader may read, as one download, CSV or JSON, the same for the console and the JSON API: each
finding with its thread (``updates``). The CSV is safe to open in a spreadsheet (``audit_export.csv_cell``: a cell
that would run as a formula starts with a quote); attachments and updates are JSON within their cells."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from litestar import Response

from accessdesk.audit_export import attachment, csv_cell
from accessdesk.domain.audit import jsonable

FORMAT = "accessdesk.findings-export/1"
CSV_COLUMNS = ["id", "model", "model_name", "title", "body", "severity", "category", "audience", "state", "reporter",
               "reporter_kind", "recipients", "attachments", "created_at", "updated_at", "updates"]  # fmt: skip
FORMATS = ("csv", "json")


def as_csv(records: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows([csv_cell(record[c]) for c in CSV_COLUMNS] for record in records)
    return buffer.getvalue()


def as_json(records: list[dict[str, Any]], *, exported_at: datetime, exported_by: str, model: str | None) -> str:
    return json.dumps({"format": FORMAT, "exported_at": jsonable(exported_at), "exported_by": exported_by,
                       "model": model, "findings": records}, ensure_ascii=False, indent=1)  # fmt: skip


def download(records: list[dict[str, Any]], *, format_: str, exported_at: datetime, exported_by: str,
             model: str | None) -> Response[str]:  # fmt: skip
    """``records`` (``Findings.export``) as a file to save: ``accessdesk-findings[-<model>]-<day>.<format>``."""
    name = f"accessdesk-findings{f'-{model}' if model else ''}-{exported_at:%Y-%m-%d}.{format_}"
    if format_ == "csv":
        return Response(as_csv(records), media_type="text/csv; charset=utf-8", headers=attachment(name))
    return Response(as_json(records, exported_at=exported_at, exported_by=exported_by, model=model),
                    media_type="application/json", headers=attachment(name))  # fmt: skip
