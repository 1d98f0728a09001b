"""Cells that a spreadsheet will not run: OWASP's advice against CSV injection.

A results CSV is opened in Excel or LibreOffice by whoever asked for it, and a cell that starts
with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some spreadsheets skip before
reading such a sign) is read as a formula: ``=HYPERLINK(...)`` in an uploaded review would become a
live link in the admin's sheet. Such cells get a leading single quote, which spreadsheets show as
text and do not display.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """``value``, with a single quote in front when a spreadsheet would read it as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value
