"""A CSV cut into pieces for the Dask engine's workers (csv_cuts, read_piece) reads as it reads
whole: for any file and any piece size, when csv_cuts gives cuts, the pieces' rows, lines,
set-aside rows and encoding, put together, are read_table's of the whole file, and a file
read_table refuses is refused by the pieces in the same words.

The property test writes notes tables that mix everything the reader treats specially (blank
lines, lines of spaces or commas, quoted empties, CRLF and lone-CR line ends, quoted fields with
line breaks and doubled quotes, trailing delimiters the header lacks, rows of the wrong width,
a UTF-8 BOM, Windows-1252 bytes, stray quotes, header spellings), anywhere in the file, and cuts
it with piece sizes from one byte to the whole file (300 examples, about 5 s). Hypothesis is
derandomized and keeps no example database, so every run tests the same cases. Then each
feature, and each disagreement the property test found, by hand at a cut with exact values.
"""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from auditkit import loading
from auditkit.errors import BundleError
from auditkit.pieces import _FIRST_LOOK, csv_cuts, read_piece
from auditkit.schemas import TABLES
from auditkit.tables import RawTable

SPEC = TABLES["notes"]
COLUMNS = ["note_id", "client_id", "staff_id", "appointment_id", "written_at", "text"]
AT = "2026-01-05T10:00:00"


def whole_and_pieces(path: Path, size: int) -> tuple[object, list[object] | None]:
    """read_table of the file (its RawTable, or the BundleError's message), and read_piece of
    each of its pieces (each a RawTable or a message), None when csv_cuts leaves it whole."""
    try:
        whole: object = loading.read_table(path.parent, SPEC)
    except BundleError as error:
        whole = str(error)
    cuts = csv_cuts(path, size)
    if cuts is None:
        return whole, None
    data = path.read_bytes()
    # The pieces cover the file after its header, in order, each of whole records.
    assert cuts.spans[0][0] == cuts.header_end
    assert [s[1] for s in cuts.spans[:-1]] == [s[0] for s in cuts.spans[1:]]
    assert cuts.spans[-1][1] == len(data)
    pieces: list[object] = []
    for k in range(len(cuts.spans)):
        piece = cuts.piece(k)
        assert piece.data == data[: cuts.header_end] + data[cuts.spans[k][0] : cuts.spans[k][1]]
        try:
            pieces.append(read_piece(piece, SPEC))
        except BundleError as error:
            pieces.append(str(error))
    return whole, pieces


def assert_pieces_read_as_whole(whole: object, pieces: list[object]) -> None:
    refusals = [p for p in pieces if isinstance(p, str)]
    if isinstance(whole, str):
        assert refusals, f"read whole: {whole!r}; no piece refused"
        assert set(refusals) == {whole}
        return
    assert not refusals, refusals
    raws: list[RawTable] = pieces  # type: ignore[assignment]
    assert {raw.encoding for raw in raws} == {whole.encoding}
    frame = pd.concat([raw.frame for raw in raws], ignore_index=True)
    pd.testing.assert_frame_equal(frame, whole.frame)
    lines = pd.concat([raw.lines for raw in raws], ignore_index=True)
    assert lines.tolist() == whole.lines.tolist()
    found = [raw.malformed for raw in raws if len(raw.malformed)]
    malformed = pd.concat(found, ignore_index=True) if found else raws[0].malformed
    if len(whole.malformed) or len(malformed):
        pd.testing.assert_frame_equal(malformed, whole.malformed.reset_index(drop=True))


# --- the files ----------------------------------------------------------------------------------

# Lone surrogates stand for raw bytes (encoded with surrogateescape): "\udce9" is the byte 0xE9,
# an "é" in Windows-1252 and no UTF-8, so a UTF-8 file holding it is read as Windows-1252.
VALUES = ["N1", "C1", "S1", AT, "plain", "", " ", "\t", "é", "’", "😀", "=1+1", "caf\udce9"]
VALUES += ["a,b", 'say "hi"', '"', '""', "two\nlines", "cr\rline", "crlf\r\nline", "\n", "x,"]
VALUES += ["nul\x00", "\x85", "line\u2028sep", "\x0b", "\r", "\r\n\r\n", ", ,", '="007"']
LINE_ENDS = ["\n", "\n", "\n", "\r\n", "\r"]
BLANKISH = ["", " ", "  \t", ",", ",,,,,", '"",""', '" ",""', '""', ",,\t,"]


def quoted(value: str, always: bool) -> str:
    if always or any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def names(draw: st.DrawFn) -> list[str]:
    columns = [c for c in COLUMNS if c != "appointment_id" or draw(st.booleans())]
    extra = [[], [], ["Comments"], ["export_id"], ["Notes\udce9"], ["two\nlines"]]
    columns += draw(st.sampled_from(extra))
    if draw(st.integers(0, 15)) == 0:  # a file read_table refuses: no staff_id, or a repeat
        columns = draw(
            st.sampled_from([[c for c in columns if c != "staff_id"], [*columns, "TEXT"]])
        )
    spelled = []
    for name in columns:
        spelling = draw(st.sampled_from(["same", "same", "upper", "title", "spaced", "hyphen"]))
        spelled.append(
            {
                "same": name,
                "upper": name.upper(),
                "title": name.replace("_", " ").title(),
                "spaced": f" {name} ",
                "hyphen": name.replace("_", "-"),
            }[spelling]
        )
    return spelled


def record(draw: st.DrawFn, width: int, every_trailing: bool) -> str:
    """One record's text (no line end): a row, or one of the reader's special cases."""
    kind = draw(
        st.sampled_from(
            ["row"] * 12
            + ["short", "long", "trailing", "trailing", "blankish", "blankish"]
            + ["bare"] * (draw(st.integers(0, 3)) == 0)
        )
    )
    if kind == "blankish":  # no record: blank, spaces, commas (the header's width, say)
        return draw(st.sampled_from([*BLANKISH, "," * (width - 1), '"",' * (width - 1) + '""']))
    if kind == "bare":  # a quote inside an unquoted field: parity can't be trusted
        return draw(st.sampled_from(['N9,C1,S1,5" tall', 'N9,"a" b', 'N9,abc"']))
    if every_trailing and kind == "row":  # an export that ends every row with a delimiter
        kind = "trailing"
    n = {"row": width, "trailing": width, "short": width - 1, "long": width + 1}[kind]
    n = max(n - draw(st.integers(0, 1)) if kind == "short" else n, 1)
    fields = [quoted(draw(st.sampled_from(VALUES)), draw(st.integers(0, 3)) == 0) for _ in range(n)]
    if kind == "long" and not fields[-1].strip('"'):
        fields[-1] = "extra"
    if kind == "trailing":
        fields.append(draw(st.sampled_from(["", "", '""'])))
    return ",".join(fields)


@st.composite
def notes_file(draw: st.DrawFn) -> tuple[bytes, int]:
    """A notes CSV's bytes, and a piece size from one byte to past the file's end."""
    header = names(draw)
    text = "".join(  # before the header: records that look blank (a third of the files)
        draw(st.sampled_from(BLANKISH)) + draw(st.sampled_from(LINE_ENDS))
        for _ in range(draw(st.integers(1, 3)) if draw(st.integers(0, 2)) == 0 else 0)
    )
    text += ",".join(quoted(n, draw(st.integers(0, 5)) == 0) for n in header)
    text += draw(st.sampled_from(["\n", "\n", "\r\n", ",\n", "\r", ""]))
    every_trailing = draw(st.integers(0, 5)) == 0
    records = draw(st.lists(st.just(None), max_size=12))
    for k in range(len(records)):
        text += record(draw, len(header), every_trailing)
        if k < len(records) - 1 or draw(st.booleans()):
            text += draw(st.sampled_from(LINE_ENDS))
    if draw(st.integers(0, 9)) == 0:  # a quoted field left open at the end of the file
        text += "\n" if records else ""
        text += draw(st.sampled_from(['N8,C1,S1,x,"open', 'N8,"open\n,,', '"']))
    if draw(st.integers(0, 3)):  # most files hold no byte that is not UTF-8
        text = text.replace("\udce9", "é")
    encoding = draw(st.sampled_from(["utf-8"] * 3 + ["utf-8-sig"] * 2 + ["cp1252", "utf-16"]))
    if encoding == "utf-16":
        data = text.encode("utf-16", errors="replace")
    else:
        data = text.encode(
            encoding, errors="surrogateescape" if encoding != "cp1252" else "replace"
        )
        if encoding == "cp1252":  # "caf\udce9" was replaced by '?': put Windows-1252 in
            data = data.replace(b"plain", "plaîn".encode("cp1252"))
    size = draw(st.one_of(st.integers(1, 40), st.integers(1, len(data) + 1)))
    return data, size


def _check(data: bytes, size: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "notes.csv"
        path.write_bytes(data)
        whole, pieces = whole_and_pieces(path, size)
    event(
        "read whole"
        if pieces is None
        else f"cut, {'refused' if isinstance(whole, str) else 'read'}"
    )
    if pieces is not None:
        event("several pieces" if len(pieces) > 1 else "one piece")
        assert_pieces_read_as_whole(whole, pieces)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=notes_file())
def test_a_csv_read_in_pieces_of_any_size_reads_as_it_reads_whole(case):
    data, size = case
    _check(data, size)


# --- by hand: each case the property test found, and each feature, at a cut -----------------------

HEADER = b"note_id,client_id,staff_id,written_at,text\n"


def pieces(path: Path, size: int) -> list[RawTable]:
    cuts = csv_cuts(path, size)
    assert cuts is not None
    return [read_piece(cuts.piece(k), SPEC) for k in range(len(cuts.spans))]


def test_a_piece_of_utf8_in_a_windows_1252_file_is_read_as_windows_1252(tmp_path):
    # The file holds one byte that is no UTF-8 (0xE9, "é" in Windows-1252), so read whole every
    # byte is Windows-1252, and the UTF-8 "é" of the second record reads "Ã©". The second piece
    # alone is UTF-8, and was read as UTF-8: "é", and another encoding.
    path = tmp_path / "notes.csv"
    path.write_bytes(HEADER + b"N1,C1,S1,x,caf\xe9\n" + "N2,C1,S1,x,café\n".encode())
    whole = loading.read_table(tmp_path, SPEC)

    raws = pieces(path, 1)

    assert [raw.lines.tolist() for raw in raws] == [[2], [3]]
    assert [raw.encoding for raw in raws] == ["windows-1252"] * 2 == [whole.encoding] * 2
    assert [raw.frame["text"].tolist() for raw in raws] == [["café"], ["cafÃ©"]]
    assert whole.frame["text"].tolist() == ["café", "cafÃ©"]


def test_a_file_with_a_utf8_bom_but_not_utf8_is_read_whole_to_be_refused(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_bytes(codecs.BOM_UTF8 + HEADER + b"N1,C1,S1,x,plain\nN2,C1,S1,x,caf\xe9\n")

    assert csv_cuts(path, 1) is None
    with pytest.raises(BundleError, match="starts with a UTF-8 byte-order mark but is not valid"):
        loading.read_table(tmp_path, SPEC)


@pytest.mark.parametrize(
    "before",
    [
        b'"",""\n',  # quoted empties: blank once unquoted, so no header
        codecs.BOM_UTF8 + b"\n",  # a BOM then a blank line: decode drops the BOM
        codecs.BOM_UTF8 + b" ,\t\r\n",  # a BOM then a line of spaces and commas
        b"sep=,\n",  # Excel's separator line
    ],
)
def test_a_blank_looking_record_before_the_header_is_not_taken_for_it(tmp_path, before):
    # csv_cuts took the first record for the header: every piece but the first then began with
    # it and read its first record as the header ("no 'note_id' column").
    path = tmp_path / "notes.csv"
    path.write_bytes(before + HEADER + b"N1,C1,S1,x,a\nN2,C1,S1,x,b\n")
    whole = loading.read_table(tmp_path, SPEC)

    cuts = csv_cuts(path, 1)
    raws = pieces(path, 1)

    assert cuts.header_end == len(before) + len(HEADER)
    assert cuts.header_lines == 2
    assert [raw.lines.tolist() for raw in raws] == [[3], [4]]
    assert [raw.frame["note_id"].tolist() for raw in raws] == [["N1"], ["N2"]]
    assert whole.lines.tolist() == [3, 4]


R1, R2 = b"N1,C1,S1,x,a", b"N2,C1,S1,x,b"
CASES = {  # each feature at a cut: pieces of 1 byte cut after every record's line feed
    "blank lines": (HEADER + b"\n" + R1 + b"\n\n\n" + R2, [3, 6], ["a", "b"], []),
    "spaces and commas": (HEADER + b"  \t\n" + R1 + b"\n,,,,\n , ,\n" + R2, [3, 6], ["a", "b"], []),
    "quoted empties": (HEADER + R1 + b'\n"",""\n" ",,""\n' + R2 + b"\n", [2, 5], ["a", "b"], []),
    "CRLF": (HEADER.replace(b"\n", b"\r\n") + R1 + b"\r\n" + R2 + b"\r\n", [2, 3], ["a", "b"], []),
    "lone CR": (HEADER + R1 + b"\r" + R2 + b"\nN3,C1,S1,x,c\r", [2, 3, 4], ["a", "b", "c"], []),
    "line breaks and doubled quotes": (
        HEADER + b'N1,C1,S1,x,"a\nb ""q"""\nN2,C1,S1,x,"c\r\nd"\n' + R2.replace(b"N2", b"N3"),
        [2, 4, 6],
        ['a\nb "q"', "c\r\nd", "b"],
        [],
    ),
    "trailing delimiters": (
        HEADER + R1 + b",\n" + R2 + b'\nN3,C1,S1,x,c,""\n',
        [2, 3, 4],
        ["a", "b", "c"],
        [],
    ),
    "wrong width": (
        HEADER + b"N1,C1,S1,x\n" + R2 + b"\nN3,C1,S1,x,c,d\n",
        [3],
        ["b"],
        [[2, "N1", "has 4 fields; the header has 5"], [4, "N3", "has 6 fields; the header has 5"]],
    ),
    "UTF-8 BOM": (
        codecs.BOM_UTF8 + HEADER + "N1,C1,S1,x,é\n".encode() + R2,
        [2, 3],
        ["é", "b"],
        [],
    ),
    "Windows-1252": (HEADER + R1 + b"\xe9\n" + R2, [2, 3], ["aé", "b"], []),
}


def test_a_record_running_on_past_the_first_look_for_its_end_is_not_cut(tmp_path):
    """A piece ends at the first record end after its cut, looked for in blocks of 64 kB and
    then twice as many bytes each time: a note of 300 kB, line feeds all through it, is cut
    inside after its first byte and must end where the note does."""
    note = b'N1,C1,S1,x,"' + b"line\n" * 60_000 + b'end"\n'
    path = tmp_path / "notes.csv"
    path.write_bytes(HEADER + note + R2 + b"\n")
    cut, note_ends = len(HEADER) + 1, len(HEADER) + len(note)  # a piece of 1 byte: cut there

    cuts = csv_cuts(path, 1)
    whole, raws = whole_and_pieces(path, 1)

    assert cuts.spans[0] == (len(HEADER), note_ends, 2)  # the whole note
    assert note_ends - cut > 3 * _FIRST_LOOK  # past the looks of 64 and 128 kB
    assert_pieces_read_as_whole(whole, raws)
    assert whole.lines.tolist() == [2, 60_003]
    assert whole.frame["text"].str.len().tolist() == [5 * 60_000 + 3, 1]


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_feature_at_a_cut_reads_as_the_whole_file(tmp_path, case):
    data, lines, texts, malformed = case
    path = tmp_path / "notes.csv"
    path.write_bytes(data)
    whole, raws = whole_and_pieces(path, 1)

    assert len(raws) >= 2
    assert_pieces_read_as_whole(whole, raws)
    assert whole.lines.tolist() == lines
    assert whole.frame["text"].tolist() == texts
    assert whole.malformed[["line", "record_id", "reason"]].values.tolist() == malformed
