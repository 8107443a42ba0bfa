"""The contract kit of Cursor: a usage export (CSV) downloaded from its dashboard."""

from __future__ import annotations

from pathlib import Path

from tokentrail.agents.contract import OUTPUT, Count, Reread, Storage, iso

HEADER = (
    "Date,Kind,Model,Max Mode,Input (w/ Cache Write),Input (w/o Cache Write),Cache Read,"
    "Output Tokens,Total Tokens,Cost\n"
)


class ExportKit:
    storage: Storage = "document"
    reread: Reread = "whole"  # an export is read whole again when it changes

    def log_path(self, root: Path) -> Path:
        return root / "usage-events.csv"

    def add(self, path: Path, first: int, count: int, *, input: Count = 100) -> None:
        rows = [
            f'"{iso(i)}","Included","claude-4.5-sonnet","No","0","{_number(input)}","0",'
            f'"{OUTPUT}","{_number(input)}","$0.01"\n'
            for i in range(first, first + count)
        ]
        self._append(path, rows)

    def add_malformed(self, path: Path) -> None:
        self._append(path, ['"yesterday","Included","gpt-5","No","0","100","0","10","110",""\n'])

    @staticmethod
    def _append(path: Path, rows: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        with open(path, "a", encoding="utf-8") as handle:
            handle.write((HEADER if new else "") + "".join(rows))


def _number(value: Count) -> str:
    return repr(value) if isinstance(value, float) else str(value)


KIT = ExportKit()
