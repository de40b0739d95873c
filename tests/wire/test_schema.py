"""The exported JSON Schemas: checked in, up to date, deterministic, and `--check` works."""

from __future__ import annotations

import json
import shutil

import pytest

from hedgemesh.wire import MESSAGES, schema


def test_given_the_checked_in_schemas_then_they_match_the_code():
    changes = schema.diff(schema.SCHEMA_DIR)
    assert not changes, (
        "The wire contracts changed but libs/hedgemesh/wire/schemas/ did not. Review the diff, "
        f"then run `{schema.REGENERATE}` and commit the files:\n{changes}"
    )


def test_given_the_export_then_one_file_per_kind_sorted_indented_with_a_trailing_newline():
    files = schema.render()
    assert set(files) == {f"{kind}.json" for kind in MESSAGES}
    for name, text in files.items():
        loaded = json.loads(text)
        assert text == json.dumps(loaded, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert loaded["x-kind"] == name.removesuffix(".json")
        assert loaded["additionalProperties"] is False
        assert {"id", "ts"} <= set(loaded["required"])
    assert schema.render() == files


def test_given_a_message_with_a_subject_then_its_schema_names_it():
    loaded = json.loads(schema.render()["order.json"])
    assert loaded["x-subject"] == "hedge.v1.order.*"
    assert loaded["x-max-payload-bytes"] == 256 * 1024
    assert "$defs" in loaded and "Instrument" in loaded["$defs"]


@pytest.fixture
def copy_of_schemas(tmp_path):
    target = tmp_path / "schemas"
    shutil.copytree(schema.SCHEMA_DIR, target)
    return target


def test_given_up_to_date_files_then_check_exits_zero(copy_of_schemas, capsys):
    assert schema.main(["--check", "--dir", str(copy_of_schemas)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_given_an_edited_file_then_check_exits_one_and_prints_the_diff(copy_of_schemas, capsys):
    tick = copy_of_schemas / "tick.json"
    tick.write_text(tick.read_text().replace("Best bid", "Top bid"))
    assert schema.main(["--check", "--dir", str(copy_of_schemas)]) == 1
    out, err = capsys.readouterr()
    assert '-      "description": "Top bid' in out and '+      "description": "Best bid' in out
    assert schema.REGENERATE in err


def test_given_a_missing_and_a_stale_file_then_check_reports_both(copy_of_schemas, capsys):
    (copy_of_schemas / "order.json").unlink()
    (copy_of_schemas / "retired.json").write_text("{}\n")
    assert schema.main(["--check", "--dir", str(copy_of_schemas)]) == 1
    out = capsys.readouterr().out
    assert "order.json (from the code)" in out and "retired.json (checked in)" in out


def test_given_a_stale_folder_then_writing_brings_it_up_to_date(copy_of_schemas):
    (copy_of_schemas / "order.json").unlink()
    (copy_of_schemas / "retired.json").write_text("{}\n")
    (copy_of_schemas / "tick.json").write_text("{}\n")
    assert schema.main(["--dir", str(copy_of_schemas)]) == 0
    assert schema.diff(copy_of_schemas) == ""
    assert not (copy_of_schemas / "retired.json").exists()


def test_given_an_empty_folder_then_every_file_is_missing(tmp_path):
    changes = schema.diff(tmp_path / "nowhere")
    assert changes.count("+++ ") == len(MESSAGES)
