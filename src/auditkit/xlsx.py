"""The xlsx report's workbook, written as its XML parts, a column at a time.

openpyxl (and xlsxwriter) make a Python object or a call per cell: some 20 s for a 70,000-finding
report. Here each column's cells are built by vectorised string operations. The parts follow
what openpyxl writes (its theme included), which Excel and LibreOffice open; text is stored as
inline strings typed as text, so nothing is ever stored as a formula.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from auditkit.columns import join_text, one_chunk, spreadsheet_column, take_text
from auditkit.output import concatenated_utf8, escaped, formula_like, in_order

XLSX_DATE_FORMAT = "yyyy-mm-dd hh:mm"
XLSX_PERCENT_FORMAT = "0.0%"
XLSX_MAX_COLUMN_WIDTH = 60
# What a worksheet cannot hold (XML 1.0): C0 controls but tab, newline and return (openpyxl's
# ILLEGAL_CHARACTERS_RE), and U+FFFE/F. Characters past \xff are in patterns as themselves: a
# \u escape sends pandas from pyarrow's regex engine to Python's re, row by row.
XLSX_UNSTORABLE = r"[\x00-\x08\x0b\x0c\x0e-\x1f" + "\ufffe\uffff]"
# Excel's most characters in a cell, counted in UTF-16 code units (an emoji is two): it reports
# a longer text as damaged content and repairs the workbook. Longer texts are cut to fit.
XLSX_MAX_CELL_TEXT = 32_767
XLSX_MAX_TITLE = 31  # a sheet title's most characters
XLSX_MAX_ROWS = 1_048_576  # a sheet's most rows, its header among them
_ASTRAL = "[\U00010000-\U0010ffff]"  # the characters UTF-16 stores as two units
# Excel and LibreOffice read '_x0041_' in a cell's XML as the escape of 'A', so text holding
# that form has its underscores written as '_x005F_', the escape of '_' (as Excel does).
_ESCAPE_LIKE = r"_[xX][0-9A-Fa-f]{4}_"
# Where str.splitlines breaks a line, once XLSX_UNSTORABLE (\v, \f, \x1c-\x1e among them) are gone.
_LINE_BREAKS = r"[\n\r\x85" + "\u2028\u2029]"
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_BOLD, _DATE, _PERCENT = ' s="1"', ' s="2"', ' s="3"'  # cellXfs in _STYLES
# Text a spreadsheet would run as a formula ('=…', '@…'): shown as it is, but marked as Excel
# marks what is typed after an apostrophe (quotePrefix), so that even editing it keeps it text.
_QUOTED = ' s="4"'
_DATE_WIDTH = len("2026-03-16 13:00")
XLSX_COMPRESSION = 1  # deflate level 1: 70,000 findings in a third of level 6's time, 20 % larger

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    f'<numFmts count="2"><numFmt numFmtId="164" formatCode="{XLSX_DATE_FORMAT}"/>'
    f'<numFmt numFmtId="165" formatCode="{XLSX_PERCENT_FORMAT}"/></numFmts>'
    '<fonts count="2">'
    '<font><sz val="11"/><color theme="1"/><name val="Calibri"/><family val="2"/>'
    '<scheme val="minor"/></font>'
    '<font><b val="1"/><sz val="11"/><color theme="1"/><name val="Calibri"/><family val="2"/>'
    '<scheme val="minor"/></font></fonts>'
    '<fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0" quotePrefix="1"/>'
    "</cellXfs>"
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _xml_text(text: pd.Series) -> pd.Series:
    """Text escaped for an XML element; a return is kept as a character reference."""
    return escaped(text, (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;")))


def _cut_to_fit(text: pd.Series) -> pd.Series:
    """Each text cut to its first XLSX_MAX_CELL_TEXT UTF-16 units, never inside a character.

    Only texts of over half that many characters can be too long, so only they are measured:
    as a grid of code points, one row a text, keeping the prefix whose units fit.
    """
    long = text[text.str.len() > XLSX_MAX_CELL_TEXT // 2]
    if long.empty:
        return text
    long = long.str.slice(0, XLSX_MAX_CELL_TEXT)  # a character is at least one unit
    units = long.str.len() + long.str.count(_ASTRAL)
    over = long[units > XLSX_MAX_CELL_TEXT]
    if not over.empty:
        points = np.array(over.tolist(), dtype=str)  # padded with NULs, which no text holds
        grid = points.view(np.uint32).reshape(len(over), -1)
        width = (grid > 0).astype(np.int32) + (grid > 0xFFFF)
        grid = np.where(width.cumsum(axis=1) <= XLSX_MAX_CELL_TEXT, grid, 0)
        long[over.index] = np.ascontiguousarray(grid).view(points.dtype).ravel().tolist()
    text = text.copy()
    text[long.index] = long
    return text


def _text_elements(values: pd.Series) -> pd.Series:
    """Each text as a cell's <t> element, as Excel reads it back: characters XML cannot hold
    become '\ufffd', texts too long for a cell are cut, '_xHHHH_' and edge spaces are kept."""
    values = _cut_to_fit(values.str.replace(XLSX_UNSTORABLE, "\ufffd", regex=True))
    looks_escaped = values.str.contains(_ESCAPE_LIKE, regex=True)
    if looks_escaped.any():
        values = values.where(~looks_escaped, values.str.replace("_", "_x005F_", regex=False))
    space = pd.Series(' xml:space="preserve"', index=values.index, dtype="str")
    space = space.where(values != values.str.strip(), "")
    return join_text(["<t", space, ">", _xml_text(values), "</t>"], values.index)


def _longest_line(text: pd.Series) -> int:
    """The longest line of any value, in characters: how wide its column must be."""
    broken = text.str.contains(_LINE_BREAKS, regex=True)
    lengths = [text[~broken].str.len().max()]
    if broken.any():
        lines = text[broken].str.split(_LINE_BREAKS, regex=True).explode()
        lengths.append(lines.astype("str").str.len().max())
    return int(max((n for n in lengths if pd.notna(n)), default=0))


def _one_type_each(values: pd.Series) -> list[pd.Series]:
    """The column's values, missing ones left out, in pieces that each hold one type.

    One piece unless an object column mixes types (numbers and text, say): then each type is
    stored as itself, as openpyxl did cell by cell.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    present = values.dropna()
    if present.dtype != object or pd.api.types.infer_dtype(present) == "string":
        return [present]
    kinds = present.map(type)
    return [
        pd.Series(part.tolist(), index=part.index, dtype=None)
        for _, part in present.groupby(kinds, sort=False)
    ]


def _typed_cells(piece: pd.Series, letter: str, rows: pd.Series, style: str) -> pd.Series:
    """One piece's <c> elements, by row."""
    if pd.api.types.is_bool_dtype(piece):
        value = piece.map({True: "1", False: "0"}).astype("str")
        kind = ' t="b"'
    elif pd.api.types.is_datetime64_any_dtype(piece):
        local = piece.dt.tz_localize(None) if piece.dt.tz is not None else piece
        days = (local.dt.normalize() - _EXCEL_EPOCH).dt.days
        days = days - ((days > 0) & (days <= 60))  # Excel's 29 February 1900, as openpyxl does
        seconds = local.dt.hour * 3600 + local.dt.minute * 60 + local.dt.second
        serial = days + (seconds + local.dt.microsecond / 10**6) / 86400
        # pyarrow writes the shortest text that reads back as the same float, like repr, faster
        value = pd.Series(pc.cast(pa.array(serial), pa.large_string()), serial.index, "str")
        kind, style = "", style or _DATE
    elif _is_number(piece):
        value = _finite_numbers(piece)
        kind = ""
    else:
        text = _nonblank_text(piece)
        # Each distinct value is cleaned and escaped once, then placed in its rows.
        codes, distinct = pd.factorize(text)
        styles: pd.Series | str = style
        if not style and (formula := formula_like(text)).any():
            styles = pd.Series(np.where(formula, _QUOTED, ""), index=text.index, dtype="str")
        start = [f'<c r="{letter}', rows[text.index], '"', styles, ' t="inlineStr"><is>']
        elements = take_text(_text_elements(pd.Series(distinct, dtype="str")), codes, text.index)
        return join_text([*start, elements, "</is></c>"], text.index)
    parts = [f'<c r="{letter}', rows[value.index], f'"{style}{kind}><v>', value, "</v></c>"]
    return join_text(parts, value.index)


def _is_number(piece: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(piece) and not pd.api.types.is_complex_dtype(piece)


def _finite_numbers(piece: pd.Series) -> pd.Series:
    return piece[np.isfinite(piece.astype("float64"))].astype("str")  # Excel has no inf


def _nonblank_text(piece: pd.Series) -> pd.Series:
    text = one_chunk(piece.astype("str"))
    return text[text != ""]  # '' is no value


def _typed_width(piece: pd.Series) -> int:
    """One piece's longest value, in characters, as its cells show it."""
    if pd.api.types.is_bool_dtype(piece):
        return int(piece.astype("str").str.len().max())
    if pd.api.types.is_datetime64_any_dtype(piece):
        return _DATE_WIDTH
    if _is_number(piece):
        value = _finite_numbers(piece)
        return int(value.str.len().max()) if len(value) else 0
    # cut or not, a long text is as wide as allowed
    return _longest_line(pd.Series(_nonblank_text(piece).unique(), dtype="str"))


def _column_cells(values: pd.Series, letter: str, rows: pd.Series, style: str) -> pd.Series | None:
    """A column's <c> elements, missing where its value is (None if all are)."""
    cells = [
        cell
        for piece in _one_type_each(values)
        if not piece.empty
        for cell in [_typed_cells(piece, letter, rows, style)]
        if not cell.empty
    ]
    if not cells:
        return None
    joined = pd.concat(cells) if len(cells) > 1 else cells[0]
    if len(cells) > 1 or len(joined) < len(values):
        joined = joined.reindex(values.index)
    return joined


def _column_width(values: pd.Series) -> int:
    return max((_typed_width(p) for p in _one_type_each(values) if not p.empty), default=0)


# Rows whose XML is built at once: a sheet is written, and compressed, a block at a time, so its
# XML (hundreds of megabytes for a large clinic's year of findings) is never held whole.
ROWS_PER_BLOCK = 20_000


def _rows_xml(
    block: pd.DataFrame, letters: list[str], styles: list[str], first_row: int
) -> pa.Buffer | bytes:
    rows = pd.Series(range(first_row, first_row + len(block)), index=block.index).astype("str")
    body: list[pd.Series | str] = ['<row r="', rows, '">']
    for i, (letter, style) in enumerate(zip(letters, styles, strict=True)):
        cells = _column_cells(block.iloc[:, i], letter, rows, style)
        if cells is not None:
            body.append(cells)
    return concatenated_utf8(join_text([*body, "</row>"], block.index))


def _most_xml_bytes(frame: pd.DataFrame) -> int:
    """More bytes than the sheet's XML can take: every character at its longest escape (4 bytes
    of UTF-8, '_' written as '_x005F_') and each cell's and row's markup. Whether the part needs
    ZIP64 must be known before its first byte is written."""
    text = sum(
        int(frame[c].astype("str").str.len().sum())
        for c in frame.columns
        if not (_is_number(frame[c]) or pd.api.types.is_datetime64_any_dtype(frame[c]))
    )
    return 28 * text + 128 * frame.size + 64 * len(frame) + 65_536


def _worksheet(
    frame: pd.DataFrame, percent: Iterable[str]
) -> tuple[Iterator[bytes | pa.Buffer], str]:
    """A sheet's XML, in pieces made as they are written, and its table's range: bold frozen
    header, autofilter, fitted widths."""
    frame = frame.reset_index(drop=True)
    percent = set(percent)
    letters = [spreadsheet_column(i) for i in range(1, len(frame.columns) + 1)]
    styles = [_PERCENT if column in percent else "" for column in frame.columns]
    names = pd.Series([str(column) for column in frame.columns], dtype="str")
    starts = ['<c r="', pd.Series(letters, dtype="str"), f'1"{_BOLD} t="inlineStr"><is>']
    # a column name is cleaned like any text: it can hold anything a value can
    head = join_text([*starts, _text_elements(names), "</is></c>"], names.index)
    widths = [
        min(max(len(name), _column_width(frame.iloc[:, i])) + 2, XLSX_MAX_COLUMN_WIDTH)
        for i, name in enumerate(names)
    ]
    area = f"A1:{letters[-1] if letters else 'A'}{len(frame) + 1}"
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{width}" customWidth="1"/>'
        for i, width in enumerate(widths, start=1)
    )
    before = "".join(
        [
            f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">',
            f'<dimension ref="{area}"/>',
            '<sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>',
            '<sheetFormatPr defaultRowHeight="15"/>',
            f"<cols>{cols}</cols>" if cols else "",
            f'<sheetData><row r="1">{"".join(head)}</row>',
        ]
    )
    after = (
        f'</sheetData><autoFilter ref="{area}"/>'
        '<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>'
        "</worksheet>"
    )

    def block_xml(start: int) -> pa.Buffer | bytes:
        block = frame.iloc[start : start + ROWS_PER_BLOCK]
        return _rows_xml(block, letters, styles, first_row=start + 2)

    def pieces() -> Iterator[bytes | pa.Buffer]:
        yield before.encode("utf-8")
        yield from _made_ahead(block_xml, range(0, len(frame), ROWS_PER_BLOCK))
        yield after.encode("utf-8")

    return pieces(), area


# Blocks of rows made at once, on threads, ahead of the one being compressed: most of making
# one is Arrow's and of compressing one zlib's, which leave Python free.
BLOCKS_AHEAD = 2


def _made_ahead(
    make: Callable[[int], pa.Buffer | bytes], starts: range
) -> Iterator[pa.Buffer | bytes]:
    """make(start) for each start, in order, with at most BLOCKS_AHEAD being made meanwhile."""
    with ThreadPoolExecutor(BLOCKS_AHEAD) as pool:
        yield from in_order((pool.submit(make, start) for start in starts), BLOCKS_AHEAD)


# Office's default theme, as openpyxl writes it (openpyxl.writer.theme.theme_xml; a test keeps
# the copy equal): importing it would import all of openpyxl, 0.1 s of every audit, for a string.
_THEME = files("auditkit").joinpath("templates/xlsx-theme.xml")


def _pages(title: str, frame: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    """A table as one sheet or, past the XLSX_MAX_ROWS a sheet holds, as several: "Findings",
    "Findings (2)" and so on, each with the header."""
    per_sheet = XLSX_MAX_ROWS - 1
    for number, start in enumerate(range(0, max(len(frame), 1), per_sheet), start=1):
        page = frame.iloc[start : start + per_sheet]
        yield (title if number == 1 else f"{title} ({number})"), page


def _check_title(title: str, taken: set[str]) -> None:
    """Raise ValueError for a sheet title Excel refuses to open a workbook with."""
    if not 1 <= len(title) <= XLSX_MAX_TITLE or re.search(r"[\[\]:*?/\\]", title):
        raise ValueError(
            f"Sheet title {title!r}: it must be 1 to {XLSX_MAX_TITLE} characters, "
            "none of [ ] : * ? / \\"
        )
    if title.startswith("'") or title.endswith("'") or re.search(XLSX_UNSTORABLE, title):
        raise ValueError(
            f"Sheet title {title!r}: no apostrophe at either end, no control characters"
        )
    if title.casefold() in taken:
        raise ValueError(f"Sheet title {title!r} is used twice (Excel ignores case)")
    taken.add(title.casefold())


def xlsx_workbook(sheets: Iterable[tuple[str, pd.DataFrame, Iterable[str]]]) -> bytes:
    """An .xlsx of (title, table, percent columns) sheets, each a filterable table.

    Text is stored as text, never a formula (neutralise it first, for other programs' sake);
    characters a worksheet cannot hold become '\ufffd' and a text over XLSX_MAX_CELL_TEXT is cut
    (the CSVs keep it whole); a title Excel would refuse raises ValueError; times are stored
    tz-naive, in their own zone, as 'yyyy-mm-dd hh:mm'; percent columns show as 0.0 %. Columns
    are as wide as their longest line, up to XLSX_MAX_COLUMN_WIDTH. A table longer than a sheet
    holds (XLSX_MAX_ROWS) goes on over "Title (2)" and on.
    """
    parts: dict[str, str | tuple[Iterator[bytes | pa.Buffer], int]] = {}
    names = []
    taken: set[str] = set()
    pages = ((t, page, p) for title, frame, p in sheets for t, page in _pages(title, frame))
    for number, (title, frame, percent) in enumerate(pages, start=1):
        _check_title(title, taken)
        sheet_xml, area = _worksheet(frame, percent)
        parts[f"xl/worksheets/sheet{number}.xml"] = (sheet_xml, _most_xml_bytes(frame))
        names.append((title, area))
    sheet_list = "".join(
        f'<sheet name="{html.escape(title)}" sheetId="{n}" r:id="rId{n}"/>'
        for n, (title, _) in enumerate(names, start=1)
    )
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
        + html.escape("'" + title.replace("'", "''") + "'!" + re.sub(r"([A-Z]+)", r"$\1$", area))
        + "</definedName>"
        for n, (title, area) in enumerate(names)
    )
    parts["xl/workbook.xml"] = (
        f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
        f'<bookViews><workbookView activeTab="0"/></bookViews><sheets>{sheet_list}</sheets>'
        + (f"<definedNames>{filters}</definedNames>" if filters else "")
        + '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )
    relationship = f"{_RELATIONSHIPS}/"
    sheet_rels = "".join(
        f'<Relationship Id="rId{n}" Type="{relationship}worksheet" '
        f'Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, len(names) + 1)
    )
    more = len(names)
    parts["xl/_rels/workbook.xml.rels"] = (
        f'{_XML}<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">{sheet_rels}'
        f'<Relationship Id="rId{more + 1}" Type="{relationship}styles" Target="styles.xml"/>'
        f'<Relationship Id="rId{more + 2}" Type="{relationship}theme" '
        'Target="theme/theme1.xml"/></Relationships>'
    )
    parts["xl/styles.xml"] = _STYLES
    parts["xl/theme/theme1.xml"] = _THEME.read_text("utf-8")
    parts["_rels/.rels"] = (
        f'{_XML}<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">'
        f'<Relationship Id="rId1" Type="{relationship}officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    )
    office = "application/vnd.openxmlformats-officedocument"
    overrides = "".join(
        f'<Override PartName="/{name}" ContentType="{office}.{kind}"/>'
        for name, kind in [
            ("xl/workbook.xml", "spreadsheetml.sheet.main+xml"),
            *(
                (f"xl/worksheets/sheet{n}.xml", "spreadsheetml.worksheet+xml")
                for n in range(1, len(names) + 1)
            ),
            ("xl/styles.xml", "spreadsheetml.styles+xml"),
            ("xl/theme/theme1.xml", "theme+xml"),
        ]
    )
    types = (
        f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f"{overrides}</Types>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=XLSX_COMPRESSION) as book:
        book.writestr("[Content_Types].xml", types)
        for name, xml in parts.items():
            if isinstance(xml, str):
                book.writestr(name, xml.encode("utf-8"))
                continue
            pieces, most = xml
            with book.open(name, "w", force_zip64=most >= zipfile.ZIP64_LIMIT) as part:
                for piece in pieces:  # made and compressed a block at a time
                    part.write(piece)
    return buffer.getvalue()
