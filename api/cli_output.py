"""Plain output for `svl` commands: JSON, and tables of aligned columns (without rich, whose import costs more
than a command that only lists should take to start)."""

import json
import sys
from collections.abc import Sequence
from typing import Any


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")


def print_table(headings: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """One line a row, columns padded to their widest cell, a rule under the headings."""
    widths = [max([len(h), *(len(row[n]) for row in rows)]) for n, h in enumerate(headings)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    sys.stdout.write("\n".join([line(headings), line(["-" * w for w in widths]), *map(line, rows)]) + "\n")
