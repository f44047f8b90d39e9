"""A CSV cut into pieces for the Dask engine's workers (csv_cuts, read_piece) reads as it reads
whole: the pieces' rows, lines, set-aside rows and encoding, put together, are read_table's of
the whole file, and a file read_table refuses is refused by the pieces in the same words.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pandas as pd
import pytest

from auditkit import loading
from auditkit.errors import BundleError
from auditkit.schemas import TABLES

SPEC = TABLES["notes"]


def whole_and_pieces(path: Path, size: int) -> tuple[object, list[object] | None]:
    """read_table of the file (its RawTable, or the BundleError's message), and read_piece of
    each of its pieces (each a RawTable or a message), None when csv_cuts leaves it whole."""
    try:
        whole: object = loading.read_table(path.parent, SPEC)
    except BundleError as error:
        whole = str(error)
    cuts = loading.csv_cuts(path, size)
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
            pieces.append(loading.read_piece(piece, SPEC))
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
    raws: list[loading.RawTable] = pieces  # type: ignore[assignment]
    assert {raw.encoding for raw in raws} == {whole.encoding}
    frame = pd.concat([raw.frame for raw in raws], ignore_index=True)
    pd.testing.assert_frame_equal(frame, whole.frame)
    lines = pd.concat([raw.lines for raw in raws], ignore_index=True)
    assert lines.tolist() == whole.lines.tolist()
    found = [raw.malformed for raw in raws if len(raw.malformed)]
    malformed = pd.concat(found, ignore_index=True) if found else raws[0].malformed
    if len(whole.malformed) or len(malformed):
        pd.testing.assert_frame_equal(malformed, whole.malformed.reset_index(drop=True))


HEADER = b"note_id,client_id,staff_id,written_at,text\n"


def pieces(path: Path, size: int) -> list[loading.RawTable]:
    cuts = loading.csv_cuts(path, size)
    assert cuts is not None
    return [loading.read_piece(cuts.piece(k), SPEC) for k in range(len(cuts.spans))]


@pytest.mark.parametrize(
    "before",
    [
        b'"",""\n',  # quoted empties: blank once unquoted, so no header
        codecs.BOM_UTF8 + b"\n",  # a BOM then a blank line: decode drops the BOM
        codecs.BOM_UTF8 + b" ,\t\r\n",  # a BOM then a line of spaces and commas
    ],
)
def test_a_blank_looking_record_before_the_header_is_not_taken_for_it(tmp_path, before):
    # csv_cuts took the first record for the header: every piece but the first then began with
    # it and read its first record as the header ("no 'note_id' column").
    path = tmp_path / "notes.csv"
    path.write_bytes(before + HEADER + b"N1,C1,S1,x,a\nN2,C1,S1,x,b\n")
    whole = loading.read_table(tmp_path, SPEC)

    cuts = loading.csv_cuts(path, 1)
    raws = pieces(path, 1)

    assert cuts.header_end == len(before) + len(HEADER)
    assert cuts.header_lines == 2
    assert [raw.lines.tolist() for raw in raws] == [[3], [4]]
    assert [raw.frame["note_id"].tolist() for raw in raws] == [["N1"], ["N2"]]
    assert whole.lines.tolist() == [3, 4]


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

    assert loading.csv_cuts(path, 1) is None
    with pytest.raises(BundleError, match="starts with a UTF-8 byte-order mark but is not valid"):
        loading.read_table(tmp_path, SPEC)
