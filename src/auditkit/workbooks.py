"""Read an Excel workbook's worksheet: a bundle's .xlsx table, and `auditkit import` of an
Excel export.

read_worksheet picks the sheet (the one named, else the first visible), finds its header row
below an export's title and parameter rows, reads its cells typed (by python-calamine where it
reads them as openpyxl does, else by openpyxl), sets aside the rows whose formulas have no saved
value, and says what a file that is no workbook is instead. cells_as_text turns typed cells into
the text a CSV export holds, as the loader does for a bundle's .xlsx table; typed_as tells the
cells' types apart for the import. blank_frame_rows, which rows hold no record, serves the
Parquet reader too.

openpyxl and python-calamine are imported only when a workbook is read: an audit of CSVs is
spared their import.
"""

from __future__ import annotations

import datetime
import itertools
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditkit.columns import spreadsheet_column
from auditkit.errors import BundleError
from auditkit.tables import (
    HEADER_SEARCH_ROWS,
    REJECTED_COLUMNS,
    RawTable,
    file_version,
    normalise_column_name,
    printable,
    unreadable,
)

# The first bytes of an Office 97-2003 file (.xls), which is also how Office stores a workbook
# encrypted with a password: then it holds an "EncryptedPackage" stream, named in UTF-16.
_OLE2_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_OLD_EXCEL = (
    "is an Excel 97-2003 workbook (.xls), a format auditkit does not read. Open it in Excel "
    "and save it as an Excel Workbook (.xlsx), or as CSV, and use that."
)


def old_excel_workbook(path: Path) -> BundleError:
    """The paragraph for an .xls file: what it is, and how to make one auditkit reads."""
    return BundleError(f"{path.name} {_OLD_EXCEL}")


def _unreadable_workbook(path: Path, error: Exception) -> BundleError:
    """The one paragraph for a workbook openpyxl could not read, saying what the file is
    instead where its bytes tell (empty, password-protected, an old .xls) and what to do."""
    try:
        data = path.read_bytes()
    except OSError as os_error:
        return unreadable(path.name, os_error)
    if not data:
        return BundleError(
            f"{path.name} is empty (0 bytes), so it holds no workbook. Export it again."
        )
    if data.startswith(_OLE2_SIGNATURE) and _ENCRYPTED_PACKAGE in data:
        return BundleError(
            f"{path.name} is protected with a password, so auditkit cannot read it. Open it in "
            "Excel, remove the password (File > Info > Protect Workbook > Encrypt with "
            "Password, and clear it), save it, and use that."
        )
    if data.startswith(_OLE2_SIGNATURE):
        return old_excel_workbook(path)
    # A KeyError's str() is its key quoted: openpyxl's names the part of the zip it missed.
    said = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    said = printable(str(said) or type(error).__name__, 200)
    return BundleError(
        f"{path.name} cannot be read as an Excel workbook: {said}. It may be damaged, or "
        "another kind of file named .xlsx: open it in Excel and save it as an Excel Workbook "
        "(.xlsx), or export it again."
    )


def _pick_worksheet(book: Any, file: str, sheet: str | None) -> Any:
    """The worksheet named `sheet` (as Excel, ignoring case), or the first visible one: a
    hidden sheet (a lookup list, last year's rows) is one the user never sees in Excel."""
    if not book.worksheets:
        raise BundleError(f"{file} has no worksheet, only charts: there is no table in it.")
    if sheet is None:
        visible = [ws for ws in book.worksheets if ws.sheet_state == "visible"]
        return (visible or book.worksheets)[0]
    by_name = {ws.title.casefold(): ws for ws in book.worksheets}
    if sheet.casefold() in by_name:
        return by_name[sheet.casefold()]
    titles = [ws.title for ws in book.worksheets]
    more = f" and {len(titles) - 30} more" if len(titles) > 30 else ""
    listed = ", ".join(f"'{printable(title)}'" for title in titles[:30])
    raise BundleError(
        f"{file} has no sheet named '{printable(sheet)}'. Its sheets: {listed}{more}. Name "
        "one of them (auditkit import --sheet NAME)."
    )


def _sheet_cells(
    path: Path, sheet: str | None, data_only: bool, other_heads: bool = False
) -> tuple[pd.DataFrame, str, bool, dict[str, pd.DataFrame]]:
    """A worksheet's cells as openpyxl types them (text, int, float, bool, datetime, time,
    timedelta; None when empty), row k of the frame being row k + 1 of the sheet; with
    `data_only` false, a formula's text instead of its saved value. And the sheet's title,
    whether it may hold a formula (_sheet_holds), and with `other_heads` the first rows of the
    workbook's other visible sheets, by title (_other_heads).

    openpyxl opens the workbook and picks the sheet; a sheet's values are read by calamine
    where it reads them as openpyxl does (_calamine_values), else openpyxl hands the rows over
    one by one and zip_longest turns them into columns, padded where a row ends early, without
    a Python loop of ours. A file openpyxl can't read stops with one paragraph saying what it
    is and what to do.
    """
    import openpyxl  # only for a workbook: an audit of CSVs is spared its import (0.1 s)

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=data_only, keep_links=False)
        try:
            worksheet = _pick_worksheet(book, path.name, sheet)
            formulas, read_apart = _sheet_holds(book, worksheet)
            frame = None
            if data_only and not (formulas or read_apart):
                frame = _calamine_values(path, worksheet.title)
            if frame is None:
                worksheet.reset_dimensions()  # a written <dimension> can be wrong: every cell
                columns = itertools.zip_longest(*worksheet.iter_rows(values_only=True))
                frame = pd.DataFrame(dict(enumerate(columns)), dtype=object)
            heads = _other_heads(book, worksheet) if other_heads else {}
            return frame, worksheet.title, formulas, heads
        finally:
            book.close()
    except BundleError:
        raise
    except Exception as error:  # whatever the zip or XML reader met: the file is unusable
        raise _unreadable_workbook(path, error) from None


def _other_heads(book: Any, read: Any) -> dict[str, pd.DataFrame]:
    """The first HEADER_SEARCH_ROWS rows of each visible worksheet but `read`, by title: where
    their headers are, without reading the rest (openpyxl streams a sheet, and stops there).
    A hidden one is named so ('Data (hidden)'), with no rows: never like the sheet read, but
    the one to name with --sheet when a visible summary stood before it."""
    heads = {}
    for worksheet in book.worksheets:  # (a workbook's sheets: a handful)
        if worksheet is read:
            continue
        if worksheet.sheet_state != "visible":
            heads[f"{worksheet.title} (hidden)"] = pd.DataFrame()
            continue
        worksheet.reset_dimensions()
        rows = worksheet.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True)
        heads[worksheet.title] = pd.DataFrame(
            dict(enumerate(itertools.zip_longest(*rows))), dtype=object
        )
    return heads


# What a workbook's XML is searched for: byte strings that are a sign of it (found fast), then
# the pattern that says it is there. A formula's element (<f>, <f t="shared" .../>, or with a
# prefix, <x:f>); and what calamine reads otherwise than openpyxl: an error cell (t="e": #N/A,
# #REF!) and a text of whitespace alone (<t> </t>, also in the shared strings), each of which
# it reads as an empty cell, and Excel's escape of a character (_x000D_, a carriage return),
# which it reads as the character and openpyxl as written.
XmlSign = tuple[tuple[bytes, ...], re.Pattern[bytes]]
_FORMULA: XmlSign = ((b"<f", b":f"), re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]"))
_READ_APART: XmlSign = (
    (b't="e"', b"t='e'", b"> ", b">\t", b">\n", b">\r", b">&#", b"_x"),
    re.compile(
        rb"""\st=["']e["']|>(?:\s|&#(?:x[0-9A-Fa-f]+|[0-9]+);)+</(?:[A-Za-z_][\w.-]*:)?t>"""
        rb"|_x[0-9A-Fa-f]{4}_"
    ),
)
_XML_READ = 1 << 20  # bytes of XML searched at a time


def _xml_holds(part: Any, *signs: XmlSign) -> list[bool]:
    """Whether an XML part of the workbook (an open file) holds each of `signs`: a pass over its
    bytes, a megabyte at a time, an element cut between two reads whole in the next one."""
    found = [False] * len(signs)
    tail = b""
    while not all(found) and (chunk := part.read(_XML_READ)):
        window = tail + chunk
        for k, (literals, pattern) in enumerate(signs):
            found[k] = found[k] or (
                any(literal in window for literal in literals) and bool(pattern.search(window))
            )
        tail = chunk[-64:]
    return found


def _sheet_holds(book: Any, worksheet: Any) -> tuple[bool, bool]:
    """Whether the worksheet may hold a formula, and a cell calamine reads otherwise than
    openpyxl (_READ_APART): a pass over its XML's bytes and the shared strings'. Reading the
    sheet again for its formulas (read_worksheet, when a cell is empty) took as long as
    reading its values. Both True when openpyxl no longer says where the sheet's XML is."""
    archive = getattr(book, "_archive", None)
    if archive is None:
        return True, True
    try:
        with archive.open(worksheet._worksheet_path) as part:
            formulas, apart = _xml_holds(part, _FORMULA, _READ_APART)
        for name in archive.namelist():
            if not apart and name.lower().endswith("sharedstrings.xml"):
                with archive.open(name) as part:
                    [apart] = _xml_holds(part, _READ_APART)
    except (AttributeError, KeyError, OSError):
        return True, True
    return formulas, apart


def _calamine_values(path: Path, title: str) -> pd.DataFrame | None:
    """The worksheet's values read by calamine (in Rust: a 100,000-row export in 1.2 s, where
    openpyxl took 15 s), typed as openpyxl types them: an empty cell None, not '', a date at
    midnight a datetime, not a date, and a whole number an int, not a float. Only for a sheet
    with no formula and nothing calamine reads otherwise (_sheet_holds, _READ_APART), where the
    two read alike: calamine keeps no formula's text. None where calamine can't read the sheet;
    openpyxl does."""
    from python_calamine import CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(title)
        rows = sheet.to_python(skip_empty_area=False)  # from A1, as openpyxl's rows
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # whatever it met (a panic in Rust is no Exception): openpyxl reads
        return None
    columns = {}
    for k, cells in enumerate(itertools.zip_longest(*rows)):  # a pass per column
        values = np.array(cells, dtype=object)
        values[values == ""] = None
        types = pd.Series(values).map(type)
        if (dates := types.eq(datetime.date).to_numpy()).any():  # (numpy's, to the year 9999)
            values[dates] = values[dates].astype("datetime64[D]").astype("datetime64[us]")
        if (floats := types.eq(float).to_numpy()).any():  # Excel's 1001 is openpyxl's int
            numbers = values[floats].astype(np.float64)
            whole = (numbers == np.floor(numbers)) & (np.abs(numbers) < 2**53)
            values[np.flatnonzero(floats)[whole]] = numbers[whole].astype(np.int64).astype(object)
        columns[k] = values
    return pd.DataFrame(columns, dtype=object)


def typed_as(cells: pd.Series, *kinds: type) -> np.ndarray:
    """Which of a worksheet's cells openpyxl handed over as one of `kinds`: exact types, so a
    bool is no int (one call of the built-in type() per cell, no Python function of ours)."""
    return cells.map(type).isin(kinds).to_numpy(dtype=bool)


def cells_as_text(cells: pd.Series) -> pd.Series:
    """Typed spreadsheet cells as the text a CSV export holds; NA where empty.

    Excel keeps every number as a float: a whole one is written without a decimal point (an id
    1001 stored as 1001.0 is '1001', a phone number 8055550127.0 all its digits, never
    '8.05555e+09'). Date-times read as '2026-03-02 13:00:00', and at midnight as the date
    alone, '2026-03-02' (Excel has no dates without a time: a date is its midnight); times
    of day as '09:30:00'.
    """
    if cells.dtype != object:  # text already (a CSV's columns)
        return cells.astype("str")
    text = cells.astype("str")  # str() of each: text, ints, date-times and times as above
    dates = typed_as(cells, datetime.datetime)
    if dates.any():
        stamps = pd.to_datetime(cells[dates])
        midnight = (stamps == stamps.dt.normalize()).to_numpy()
        text.iloc[np.flatnonzero(dates)[midnight]] = (
            stamps[midnight].dt.strftime("%Y-%m-%d").to_numpy()
        )
    floats = typed_as(cells, float) & cells.notna().to_numpy()
    if floats.any():
        numbers = cells[floats].astype("float64")
        whole = numbers == np.floor(numbers)
        text[floats] = numbers.map(repr).where(~whole, numbers.map("{:.0f}".format)).to_numpy()
    return text.replace("", pd.NA)  # a cell holding empty text is empty


def _only_text(cells: pd.Series) -> pd.Series:
    """The cells that hold text, as text; NA elsewhere (numbers, dates, empty cells)."""
    return cells.where(typed_as(cells, str)).astype("str")


def _unsaved_formulas(
    file: str,
    frame: pd.DataFrame,
    empty: np.ndarray,
    formulas: pd.DataFrame,
    lines: np.ndarray,
    id_column: str | None,
) -> pd.DataFrame:
    """Problems of the cells whose formula has no saved value, one per cell (file, line, ...):
    their rows are set aside. `empty`: the cells of `frame` that may hold such a formula (empty,
    in a column whose formulas count).

    Excel stores each formula's last value beside it; a workbook written by a script may not,
    and read for its values such a cell is empty: 'scheduled_start is blank' would send the
    reader looking for a date that is on screen in Excel, and a row of such cells would pass
    for an empty one. `formulas` is the sheet read for its formulas, cell for cell with
    `frame`; a formula under no header is no column of the table.
    """
    names = [normalise_column_name(c) for c in frame.columns]
    rows, at = np.nonzero(empty)  # only the empty cells: few, and only theirs are looked at
    text = _only_text(pd.Series(formulas.to_numpy()[rows, at], dtype=object))
    formula = text.str.startswith("=").fillna(False).to_numpy(dtype=bool)
    rows, at, text = rows[formula], at[formula], text[formula]
    if not len(rows):
        return pd.DataFrame(columns=REJECTED_COLUMNS)
    id_at = names.index(id_column) if id_column in names else None
    ids = "" if id_at is None else cells_as_text(frame.iloc[rows, id_at]).fillna("").to_numpy()
    header = pd.Series(frame.columns[at].astype("str")).map(printable).to_numpy()
    return pd.DataFrame(
        {
            "file": file,
            "line": lines[rows],
            "record_id": ids,
            "column": [names[k] for k in at],
            "reason": "has a formula with no saved value in "
            + header
            + " ("
            + text.map(lambda formula: printable(formula, 80)).to_numpy()
            + "): open the workbook in Excel and save it, so its values are stored",
        },
        columns=REJECTED_COLUMNS,
    )


def _names_held(frame: pd.DataFrame, names: Collection[str]) -> np.ndarray:
    """How many of `names` (as normalise_column_name has them) each of the first
    HEADER_SEARCH_ROWS rows holds: where a header may be, and how like another sheet's. Each
    distinct cell is normalised once (a workbook of many monthly sheets repeats its words)."""
    head = frame.iloc[:HEADER_SEARCH_ROWS]
    if not len(names) or head.empty:
        return np.zeros(len(head), dtype=np.int64)
    cells = pd.Series(head.to_numpy(dtype=object).ravel(), dtype=object)
    codes, distinct = pd.factorize(cells_as_text(cells))
    wanted = {name: k for k, name in enumerate(sorted(set(names)))}
    keys = pd.Series(distinct, dtype="str").map(normalise_column_name).map(wanted)
    key_ids = np.append(keys.fillna(-1).to_numpy(np.int64), -1)[codes]  # NA cells: -1
    grid = np.sort(key_ids.reshape(head.shape), axis=1)
    first = np.ones(grid.shape, dtype=bool)
    first[:, 1:] = grid[:, 1:] != grid[:, :-1]
    return ((grid >= 0) & first).sum(axis=1)


def _header_row(frame: pd.DataFrame, blank: np.ndarray, names: Collection[str]) -> int | None:
    """Where a worksheet's header is: the first of its first rows holding the most of `names`
    (as normalise_column_name has them), for an export's title rows and parameter rows
    ('Status', 'All') may come before it; else the first row that is not blank. None for a
    sheet of blank rows."""
    held = _names_held(frame, names)
    if held.any():
        return int(np.argmax(held))
    filled = np.flatnonzero(~blank)
    return int(filled[0]) if len(filled) else None


def read_worksheet(
    path: Path,
    table: str,
    id_column: str | None = None,
    sheet: str | None = None,
    names: Collection[str] = (),
    formula_columns: Collection[str] | None = None,
    other_sheets: bool = False,
) -> RawTable:
    """A worksheet as a table of typed cells (see _sheet_cells), 'line' being the sheet's row.

    Shared by the loader's .xlsx tables and `auditkit import` of Excel exports. The sheet is
    `sheet` (else the first); the header is the first row holding the most of `names` (a
    report's title and parameter rows above it are skipped), else the first row with a value.
    Rows whose cells in `formula_columns` (all, if None) hold a formula with no saved value are
    set aside (in `malformed`), as rows of the wrong width are in a CSV; blank rows are
    dropped. A column with no header is named by its letter ('column H'). A file that isn't a
    workbook stops with one paragraph saying what it is and what to do. With `other_sheets`,
    and no `sheet` named, the workbook's other visible sheets are named too (`other_sheets`,
    `alike_sheets`): rows in them are not read, and an import says so.
    """
    file_version(path)  # a missing or unreadable file stops here, in the words used for any file
    values, title, formulas_held, heads = _sheet_cells(
        path, sheet, data_only=True, other_heads=other_sheets and sheet is None
    )
    shape = values.shape
    file = path.name if sheet is None else f"{path.name} (sheet {title})"
    blank = blank_frame_rows(values, spaces=True)
    header_at = _header_row(values, blank, set(names))
    if header_at is None:
        raise BundleError(f"{file} is empty: it has no header row and no records.")
    header = cells_as_text(values.iloc[header_at]).str.strip()
    named = header.notna() & (header != "")
    body = slice(header_at + 1, None)
    kept = named | values.iloc[body].notna().any().to_numpy()  # unnamed but holding values
    header = header.where(named, [f"column {spreadsheet_column(k + 1)}" for k in range(shape[1])])
    frame = values.iloc[body].loc[:, kept.to_numpy()].set_axis(list(header[kept]), axis=1)
    lines = np.arange(header_at + 2, shape[0] + 1)
    # Where a formula without a saved value may be: an empty cell under a header (a formula
    # under none is no column of the table) whose formulas count.
    counted = named[kept].to_numpy() & np.array(
        [formula_columns is None or normalise_column_name(c) in formula_columns for c in frame],
        dtype=bool,
    )
    empty = frame.isna().to_numpy() & counted
    unsaved = pd.DataFrame(columns=REJECTED_COLUMNS)
    # Else no cell can hide a formula: the sheet isn't read again for them.
    if empty.any() and formulas_held:
        formulas, _, _, _ = _sheet_cells(path, title, data_only=False)
        formulas = formulas.reindex(index=range(shape[0]), columns=range(shape[1]))
        formulas = formulas.iloc[body].loc[:, kept.to_numpy()]
        unsaved = _unsaved_formulas(file, frame, empty, formulas, lines, id_column)
    keep = ~np.isin(lines, unsaved["line"]) & ~blank[body]
    held = _names_held(values.iloc[header_at : header_at + 1], names).max(initial=0)
    alike = [
        t for t, head in heads.items() if held and _names_held(head, names).max(initial=0) >= held
    ]
    return RawTable(
        table,
        file,
        frame[keep].reset_index(drop=True),
        pd.Series(lines[keep]),
        unsaved,
        "xlsx",
        sheet=title,
        header_line=header_at + 1,
        other_sheets=tuple(heads),
        alike_sheets=tuple(alike),
    )


def blank_frame_rows(frame: pd.DataFrame, spaces: bool) -> np.ndarray:
    """Which rows have every cell empty (or, with `spaces`, only spaces and tabs, as a cell
    a spreadsheet user "cleared" with the space bar has): no record, as a blank CSV line is none.

    Each column is looked at only for the rows still blank so far, so nearly always one column
    is, for the first column of an export (its ids) is never blank.
    """
    rows = np.arange(len(frame))
    for column in frame.columns:
        if len(rows) == 0:
            break
        values = frame[column].iloc[rows]
        cell = values.isna().to_numpy()
        if spaces and values.dtype == object:  # a worksheet's typed cells: only text is spaces
            values = _only_text(values)
        if spaces and pd.api.types.is_string_dtype(values.dtype):
            cell = cell | values.str.fullmatch(r"[ \t]*").fillna(False).to_numpy(dtype=bool)
        rows = rows[cell]
    blank = np.zeros(len(frame), dtype=bool)
    blank[rows] = True
    return blank
