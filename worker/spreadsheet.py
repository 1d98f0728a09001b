"""Cells that a spreadsheet will not run: OWASP's advice against CSV injection.

A results CSV is opened in Excel or LibreOffice by whoever asked for it, and a cell that starts
with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some spreadsheets skip before
reading such a sign) is read as a formula: ``=HYPERLINK(...)`` in an uploaded review would become a
live link in the admin's sheet. Such cells get a leading single quote, which spreadsheets show as
text and do not display.

A file sentibot reads back (the feedback export) must come back unchanged, so the quote is added to
every cell whose quotes are followed by such a sign (``'=x`` becomes ``''=x``) and :func:`restore_cell`
takes exactly one off again: the round trip is lossless.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _armed(value: str) -> bool:
    return value.lstrip("'").startswith(FORMULA_STARTS)


def safe_cell(value: str) -> str:
    """``value``, with a single quote in front when a spreadsheet would read it as a formula."""
    return "'" + value if _armed(value) else value


def restore_cell(value: str) -> str:
    """The value :func:`safe_cell` was given: one added quote taken off again."""
    return value[1:] if value.startswith("'") and _armed(value) else value
