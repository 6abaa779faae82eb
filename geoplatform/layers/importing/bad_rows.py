"""Rows an import cannot store as they are, named by line (CSV) or feature number, so nothing is lost silently.

A bad row is one whose reading would lose something: a CSV coordinate that is not a number, a GeoJSON
geometry GDAL cannot read, a NUL character (GDAL cuts text at NUL, and PostgreSQL text cannot hold one).
The file is refused naming the first :data:`NAMED` of them plus a count, or, when the publisher asks
(``--skip-bad-rows``, HTTP ``skip_bad_rows=true``), they are left out and listed in the publish report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from geoplatform.layers.importing.errors import ImportRejected

NAMED = 20  # bad rows named in a refusal and in the report's details
LISTED = 1000  # line (or feature) numbers kept in the publish report


@dataclass
class BadRows:
    """Bad rows met so far, in file order: how many, the first numbers and the first reasons.

    ``unit`` is "line" (a CSV line, counting the header as line 1) or "feature" (1-based position in the file).
    """

    unit: str = "feature"
    count: int = 0
    numbers: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, number: int, reason: str) -> None:
        self.count += 1
        if len(self.numbers) < LISTED:
            self.numbers.append(number)
        if len(self.reasons) < NAMED:
            self.reasons.append(f"{self.unit} {number}: {reason}")

    def merge(self, other: BadRows) -> None:
        """Append ``other`` (the bad rows of a later chunk)."""
        self.unit = other.unit
        self.count += other.count
        self.numbers.extend(other.numbers[: max(0, LISTED - len(self.numbers))])
        self.reasons.extend(other.reasons[: max(0, NAMED - len(self.reasons))])

    def refusal(self, file_name: str) -> ImportRejected:
        """The error refusing the file: the first rows named, how many in all, and how to skip them."""
        more = f"; and {self.count - len(self.reasons)} more" if self.count > len(self.reasons) else ""
        rows = "row" if self.count == 1 else "rows"
        return ImportRejected(f"{file_name}: {self.count} bad {rows}, nothing was published: "
                              + "; ".join(self.reasons) + more
                              + ". Correct them, or leave them out with --skip-bad-rows (HTTP: skip_bad_rows=true)")

    def report(self) -> dict:
        """What the publish report says about the rows left out."""
        plural = f"{self.unit}s"
        return {"count": self.count, plural: self.numbers, "details": self.reasons,
                **({f"{plural}_truncated": True} if self.count > len(self.numbers) else {})}
