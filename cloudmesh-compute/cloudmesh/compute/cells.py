"""Table cells of records: what a table or CSV row shows for each field (lists joined with
commas, None as empty text, control characters escaped). Shared by the output and by the
state database, which stores the cells of each cached VM beside it.
"""

from __future__ import annotations

from cloudmesh.compute.terminal import escape_control

VM_COLUMNS = ["name", "status", "cloud", "image", "flavor", "public_ips", "private_ips",
              "zone", "created"]

def _cell(value: object) -> object:
    """A table or CSV cell: lists joined with commas, None as empty text, text escaped."""
    if isinstance(value, (list, tuple)):
        return escape_control(",".join(str(v) for v in value))
    if isinstance(value, dict):
        return escape_control(",".join(f"{k}={v}" for k, v in value.items()))
    if isinstance(value, str):
        return escape_control(value)
    return "" if value is None else value


def table_cells(records: list[dict], columns: list[str]) -> list[list]:
    """The cells of a table: lists joined with commas, None as empty text."""
    return [[v if type(v) is str else _cell(v) for v in map(record.get, columns)]
            for record in records]
