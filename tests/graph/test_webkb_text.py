"""A damaged CS-TAG WebKB CSV gives one clear error naming the file, line and field, never a traceback."""

import csv

import pytest
from typer.testing import CliRunner

from mentor.cli import app
from tests.conftest import shared_data_root

runner = CliRunner()


def _edited_root(tmp_path, edit):
    """A data root holding Cornell.csv with ``edit(rows)`` applied to its rows (dicts, header order kept)."""
    source = shared_data_root("webkb/cornell/cstag_text") / "webkb" / "cornell" / "cstag_text" / "Cornell.csv"
    target = tmp_path / "data" / "webkb" / "cornell" / "cstag_text" / "Cornell.csv"
    target.parent.mkdir(parents=True)
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    edit(rows)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path / "data", target


def _set(row, field, value):
    def edit(rows):
        rows[row][field] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set(4, "neighbor_ids", "5"), "line 6, field 'neighbor_ids': expected a list of node ids such as [3, 17], "
                                       "got '5'"),
        (_set(4, "neighbor_ids", "[5, 'x']"), "line 6, field 'neighbor_ids': neighbour 'x' is not a node id"),
        (_set(4, "neighbor_ids", "[5,"), "line 6, field 'neighbor_ids': expected a list of node ids"),
        (_set(9, "label", "student"), "line 11, field 'label': expected a non-negative integer, got 'student'"),
        (_set(9, "label", "-1"), "line 11, field 'label': expected a non-negative integer, got '-1'"),
        (_set(9, "node_id", "x9"), "line 11, field 'node_id': expected a non-negative integer, got 'x9'"),
        (_set(9, "node_id", "10"), "line 11, field 'node_id': node_id 10 must equal the row index 9"),
    ],
)  # fmt: skip
def test_a_bad_cell_is_reported_on_its_line(tmp_path, edit, message):
    root, path = _edited_root(tmp_path, edit)
    result = runner.invoke(app, ["data", "describe", "cornell", "--data-root", str(root)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert f"{path}, {message}" in result.output


def test_a_quoted_cell_over_several_lines_keeps_later_line_numbers_right(tmp_path):
    def edit(rows):
        rows[2]["raw_text"] = "first line\nsecond line\nthird line"
        rows[4]["neighbor_ids"] = "7"

    root, path = _edited_root(tmp_path, edit)
    result = runner.invoke(app, ["data", "describe", "cornell", "--data-root", str(root)])
    assert result.exit_code == 1 and f"{path}, line 8, field 'neighbor_ids'" in result.output


def test_a_repeated_column_is_refused(tmp_path):
    root, path = _edited_root(tmp_path, lambda rows: None)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0] = lines[0].replace("category", "label", 1)
    path.write_text("".join(lines), encoding="utf-8")
    result = runner.invoke(app, ["data", "describe", "cornell", "--data-root", str(root)])
    assert result.exit_code == 1
    assert f"{path}, line 1, field 'label': column 'label' appears more than once (columns 3 and 5)" in result.output


def test_the_real_file_still_loads_through_the_cli(tmp_path):
    root, _ = _edited_root(tmp_path, lambda rows: None)
    result = runner.invoke(app, ["data", "describe", "cornell", "--data-root", str(root), "--json"])
    assert result.exit_code == 0, result.output
    assert '"nodes": 191' in result.output and '"edges": 274' in result.output
