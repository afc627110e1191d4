"""Row-level cleaning: mixed good and bad rows, encodings, corrections, duplicates, profiles."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.atlas import Atlas
from app.errors import Conflict, ProfileError, UnreadableFile
from app.ingest.profiles import parse_profile
from geo.errors import GeoError
from tests.app.conftest import make_settings

HEADER = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context"


def police_csv(rows: list[str], bom: bool = False, encoding: str = "utf-8") -> bytes:
    text = "\r\n".join([HEADER, *rows]) + "\r\n"
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


GOOD = "a1,2022-03,Surrey Police,Surrey Police,-0.570000,51.240000,On or near High Street,E01030000,Guildford 001A,Burglary,Under investigation,"
ASB = ",2022-03,Surrey Police,Surrey Police,-0.570000,51.240000,On or near High Street,E01030000,Guildford 001A,Anti-social behaviour,,"
UNLOCATED = (
    "a2,2022-03,Surrey Police,Surrey Police,,,No Location,,,Vehicle crime,Under investigation,"
)


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_mixed_good_and_bad_rows(atlas: Atlas, tmp_path: Path) -> None:
    rows = [
        GOOD,  # 1 accepted
        ASB,  # 2 accepted
        ASB,  # 3 accepted: identical to row 2, kept and counted
        UNLOCATED,  # 4 accepted, unlocated
        "b1,2022-13,Surrey Police,Surrey Police,-0.57,51.24,x,,,Burglary,,",  # 5 invalid_date
        "b2,,Surrey Police,Surrey Police,-0.57,51.24,x,,,Burglary,,",  # 6 missing_date
        "b3,2022-03,Surrey Police,Surrey Police,-0.57,51.24,x,,,,,",  # 7 missing_category
        "b4,2022-03,Surrey Police,Surrey Police,abc,51.24,x,,,Burglary,,",  # 8 invalid_coordinates
        "b5,2022-03,Surrey Police,Surrey Police,0,0,x,,,Burglary,,",  # 9 zero_coordinates
        "b6,2022-03,Surrey Police,Surrey Police,51.24,-0.57,x,,,Burglary,,",  # 10 swapped_lonlat
        "b7,2022-03,Surrey Police,Surrey Police,-1.449245,53.585310,x,,,Burglary,,",  # 11 Barnsley: too far
        "b8,2022-03,Surrey Police,Surrey Police,2.35,48.85,x,,,Burglary,,",  # 12 Paris: outside GB
        "b9,2022-03,Surrey Police,Surrey Police,-0.57,51.24,x,Burglary,,",  # 13 wrong field count
        'c1,2022-03,Surrey Police,Surrey Police,-0.57,51.24,"On or near\nTwo Lines",,,=HYPERLINK("x"),,',  # 14
        "c2,2099-01,Surrey Police,Surrey Police,-0.57,51.24,x,,,Burglary,,",  # 15 date_in_future
        "c3,2022-03,Surrey Police,Surrey Police,-0.12,51.50,On or near Westminster,,,Burglary,,",  # 16 outside area
    ]
    path = write(tmp_path, "mixed.csv", police_csv(rows, bom=True))
    (out,) = atlas.ingest([path], "mixed")
    r = out.report
    assert r["rows_read"] == 16
    assert r["rejected"] == {
        "invalid_date": 1,
        "missing_date": 1,
        "missing_category": 1,
        "invalid_coordinates": 1,
        "zero_coordinates": 1,
        "swapped_lonlat": 1,
        "beyond_max_distance": 1,
        "outside_great_britain": 1,
        "wrong_field_count": 1,
        "date_in_future": 1,
    }
    assert r["accepted"] == 6 and r["unlocated"] == 1 and r["identical_rows"] == 1
    assert r["outside_area"] == 1
    assert r["encoding"] == "utf-8-sig"
    assert r["rows_read"] == r["accepted"] + r["duplicates"] + sum(r["rejected"].values())
    rejects = list(
        csv.DictReader(io.StringIO(atlas.store.batches.rejects_csv(out.batch.id).decode()))
    )
    assert [int(x["source_row"]) for x in rejects] == [5, 6, 7, 8, 9, 10, 11, 12, 13, 15]
    assert rejects[0]["reason"] == "invalid_date"
    cols = atlas.store.batches.load_incidents(atlas.store.datasets.get("mixed").id)
    # Formula-looking text is stored as text, untouched; quoted newlines survive.
    assert '=HYPERLINK("x")' in cols["category"].tolist()
    assert "On or near\nTwo Lines" in cols["location_text"].tolist()
    located = np.isfinite(cols["easting"])
    assert located.sum() == 5
    # -0.57, 51.24 is in Guildford: OSTN15 gives about 499417 E, 149731 N (SU 99 49).
    e = cols["easting"][0]
    n = cols["northing"][0]
    assert 499_000 < e < 500_000 and 149_000 < n < 150_000


def test_cp1252_file_is_read(atlas: Atlas, tmp_path: Path) -> None:
    row = "a9,2022-03,Surrey Police,Surrey Police,-0.57,51.24,On or near Caf\u00e9 Street,,,Burglary,,"
    path = write(tmp_path, "cp.csv", police_csv([row], encoding="cp1252"))
    (out,) = atlas.ingest([path], "cp")
    assert out.report["encoding"] == "cp1252"
    cols = atlas.store.batches.load_incidents(atlas.store.datasets.get("cp").id)
    assert cols["location_text"][0] == "On or near Caf\u00e9 Street"


def test_correction_replaces_the_partners_month(atlas: Atlas, tmp_path: Path) -> None:
    first = write(tmp_path, "m.csv", police_csv([GOOD, ASB, UNLOCATED]))
    (a,) = atlas.ingest([first], "corr", owner=None)
    corrected = write(tmp_path, "m2.csv", police_csv([GOOD, ASB]))
    (b,) = atlas.ingest([corrected], "corr")
    assert b.report["status"] == "replaced" and b.report["replaced_batches"] == [a.batch.id]
    ds = atlas.store.datasets.get("corr")
    history = atlas.store.batches.all(ds.id)
    assert [h.superseded_by for h in history] == [b.batch.id, None]
    assert len(atlas.store.batches.load_incidents(ds.id, ["month"])) == 2
    # The replaced batch's Crime IDs are not duplicates of the correction.
    assert b.report["duplicates"] == 0


def test_partial_correction_is_refused(atlas: Atlas, tmp_path: Path) -> None:
    two_months = write(
        tmp_path, "q.csv", police_csv([GOOD, GOOD.replace("a1,2022-03", "a3,2022-04")])
    )
    atlas.ingest([two_months], "part")
    one_month = write(tmp_path, "q2.csv", police_csv([GOOD.replace("a1", "a4")]))
    with pytest.raises(Conflict):
        atlas.ingest([one_month], "part")


def test_record_ids_already_held_are_duplicates(atlas: Atlas, tmp_path: Path) -> None:
    atlas.ingest([write(tmp_path, "a.csv", police_csv([GOOD]))], "dups", partner="police")
    other = write(tmp_path, "b.csv", police_csv([GOOD, ASB, ASB]))
    (out,) = atlas.ingest([other], "dups", partner="council")
    assert out.report["duplicates"] == 1  # a1 is held; ASB rows have no id, never duplicates
    assert out.report["accepted"] == 2


PROFILE = """
name = "council-asb"
[columns]
record_id = "Ref"
category = "Type"
location_text = "Where"
[dates]
from = "Start"
to = "End"
[[locations]]
kind = "gridref"
gridref = "GridRef"
[[locations]]
kind = "en"
easting = "E"
northing = "N"
[categories]
"ABAN VEH" = "Abandoned vehicle"
"""


def test_mapping_profile_with_windows_gridrefs_and_excel_serials(
    atlas: Atlas, tmp_path: Path
) -> None:
    prof = tmp_path / "council.toml"
    prof.write_text(PROFILE)
    rows = [
        "Ref,Type,Where,Start,End,GridRef,E,N",
        "1,ABAN VEH,Park,2022-03-04 22:00,2022-03-05 06:00,SU 99417 49731,,",
        "2,Noise,Flat,44624.5,,su9949,,",  # Excel serial 44624.5 = 2022-03-04 12:00
        "3,Noise,Flat,2022-03-04T10:00:00,,,499417,149731",
        "4,Noise,Flat,2022-03-04T10:00:00,,XX123,,",  # invalid grid reference
        "5,Noise,Flat,2022-03-05,2022-03-04,,,",  # window ends before it starts
        "6,Noise,Flat,2022-03-05 10:00,2022-03-05,su9949,,",  # ends with its own day: fine
    ]
    path = write(tmp_path, "council.csv", ("\n".join(rows) + "\n").encode())
    (out,) = atlas.ingest([path], "council", profile=str(prof))
    r = out.report
    assert r["accepted"] == 4
    assert r["rejected"] == {"invalid_grid_reference": 1, "window_ends_before_start": 1}
    cols = atlas.store.batches.load_incidents(atlas.store.datasets.get("council").id)
    assert cols["category"].tolist() == ["Abandoned vehicle", "Noise", "Noise", "Noise"]
    # A date-only end runs to the end of its day (windows are half-open).
    assert str(cols["occurred_from"][3]) == "2022-03-05T10:00:00"
    assert str(cols["occurred_to"][3]) == "2022-03-06T00:00:00"
    assert cols["easting"].tolist() == [499417, 499000, 499417, 499000]
    assert cols["precision_m"].tolist() == [1, 1000, 1, 1000]
    assert str(cols["occurred_from"][1]) == "2022-03-04T12:00:00"
    assert str(cols["occurred_to"][0]) == "2022-03-05T06:00:00"


def test_profile_errors_are_clear(atlas: Atlas, tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="exactly one of month"):
        parse_profile('name = "x"\n[columns]\ncategory = "c"\n[dates]\n')
    with pytest.raises(ProfileError, match="not valid TOML"):
        parse_profile("name = ")
    path = write(tmp_path, "x.csv", b"a,b\n1,2\n")
    with pytest.raises(ProfileError, match="needs columns"):
        atlas.ingest([path], "x")


def test_two_forces_in_one_month_do_not_correct_each_other(atlas: Atlas, tmp_path: Path) -> None:
    # The national police.uk month: one file per force, same month, one dataset.
    surrey = write(tmp_path, "s.csv", police_csv([GOOD]))
    kent = write(
        tmp_path,
        "k.csv",
        police_csv([GOOD.replace("a1,", "k1,").replace("Surrey Police", "Kent Police")]),
    )
    outcomes = atlas.ingest([surrey, kent], "national")
    assert [o.report["status"] for o in outcomes] == ["new", "new"]
    ds = atlas.store.datasets.get("national")
    assert [b.stream for b in atlas.store.batches.all(ds.id, active_only=True)] == [
        "|Surrey Police",
        "|Kent Police",
    ]


def test_a_partners_new_dataset_is_private_and_settings_never_silently_ignored(
    atlas: Atlas, tmp_path: Path
) -> None:
    atlas.store.datasets.add_partner("council", "Council")
    path = write(tmp_path, "c.csv", police_csv([GOOD]))
    atlas.ingest([path], "council-data", owner="council")
    assert atlas.store.datasets.get("council-data").access == "restricted"
    atlas.ingest([write(tmp_path, "o.csv", police_csv([ASB]))], "open-data")
    assert atlas.store.datasets.get("open-data").access == "open"
    with pytest.raises(Conflict, match="datasets configure"):
        atlas.ingest(
            [write(tmp_path, "d.csv", police_csv([UNLOCATED]))], "council-data", access="open"
        )
    with pytest.raises(Conflict):
        atlas.ingest(
            [write(tmp_path, "e.csv", police_csv([UNLOCATED]))], "open-data", owner="council"
        )


DATETIME_PROFILE = """
name = "when"
default_category = "ASB"
[dates]
datetime = "When"
[[locations]]
kind = "gridref"
gridref = "G"
"""


def test_a_date_without_a_time_keeps_its_day_and_invents_no_hour(
    atlas: Atlas, tmp_path: Path
) -> None:
    """A date-only value in a datetime column is the window of its whole day: the day (and so
    the day of week) is kept, its weight spread 1/24 over the hours; exact times stay exact."""
    prof = tmp_path / "when.toml"
    prof.write_text(DATETIME_PROFILE)
    rows = [
        "When,G",
        "16/03/2022,SU9949",  # a Wednesday, date only
        "2022-03-17,SU9949",  # a Thursday, date only
        "44650,SU9949",  # Excel serial without a fraction: 2022-03-30 (a Wednesday), date only
        "2022-03-18 13:30:00,SU9949",  # a Friday, exact
        "44635.5,SU9949",  # Excel serial 2022-03-15 12:00 (a Tuesday), exact
    ]
    path = write(tmp_path, "when.csv", ("\n".join(rows) + "\n").encode())
    (out,) = atlas.ingest([path], "when", profile=str(prof))
    assert out.report["accepted"] == 5
    cols = atlas.store.batches.load_incidents(atlas.store.datasets.get("when").id)
    assert [str(v) for v in cols["occurred_from"]] == [
        "2022-03-16T00:00:00",
        "2022-03-17T00:00:00",
        "2022-03-30T00:00:00",
        "2022-03-18T13:30:00",
        "2022-03-15T12:00:00",
    ]
    assert [str(v) for v in cols["occurred_to"]] == [
        "2022-03-17T00:00:00",  # windows are half-open: the whole of 2022-03-16
        "2022-03-18T00:00:00",
        "2022-03-31T00:00:00",
        "2022-03-18T13:30:00",
        "2022-03-15T12:00:00",
    ]
    profile = atlas.time_profile("when")
    table = np.array(profile["table"])
    assert profile["n_exact"] == 2 and profile["n_window"] == 3 and profile["n_day_only"] == 3
    assert table.sum() == pytest.approx(5)
    # Wednesday (row 2): two whole days, 2/24 in every hour; Thursday: 1/24; Friday 13:00: 1.
    np.testing.assert_allclose(table[2], np.full(24, 2 / 24))
    np.testing.assert_allclose(table[3], np.full(24, 1 / 24))
    assert table[4, 13] == pytest.approx(1) and table[1, 12] == pytest.approx(1)
    assert any("known only to the day" in c for c in profile["caveats"])


def test_a_truncated_file_is_refused_and_the_month_it_would_replace_stays(
    atlas: Atlas, shared_data: Path, tmp_path: Path
) -> None:
    """A download cut off mid-record must not become a correction of the whole month."""
    full = shared_data / "crime" / "surrey" / "2022-03-surrey-street.csv"
    (first,) = atlas.ingest([full], "s")
    data = full.read_bytes()
    cut = write(tmp_path, "2022-03-cut.csv", data[: len(data) // 2 - 7])
    with pytest.raises(UnreadableFile, match="looks truncated"):
        atlas.ingest([cut], "s")
    ds = atlas.store.datasets.get("s")
    assert [b.id for b in atlas.store.batches.all(ds.id, active_only=True)] == [first.batch.id]
    # Cut exactly at a record's end there is nothing to tell; the correction then says what it
    # takes away beside what it brings.
    lines = data.split(b"\r\n")
    half = write(tmp_path, "2022-03-half.csv", b"\r\n".join(lines[:3001]) + b"\r\n")
    (short,) = atlas.ingest([half], "s")
    assert short.report["status"] == "replaced"
    assert short.report["accepted"] + sum(short.report["rejected"].values()) == 3000
    assert short.report["replaced_accepted"] == first.report["accepted"] == 7612


def test_a_file_of_only_a_header_is_refused(atlas: Atlas, tmp_path: Path) -> None:
    path = write(tmp_path, "h.csv", police_csv([]))
    with pytest.raises(UnreadableFile, match="no data rows"):
        atlas.ingest([path], "h")
    assert atlas.store.datasets.find("h") is None


def test_a_failed_first_load_leaves_no_empty_dataset(template_db: Path, tmp_path: Path) -> None:
    """The OSTN15 grid is missing: the geocoding step fails after the dataset was made."""
    path = tmp_path / "atlas.db"
    shutil.copy(template_db, path)
    broken = Atlas.open(settings=make_settings(path, ostn15_grid=tmp_path / "missing.tif"))
    try:
        with pytest.raises(GeoError, match=r"missing\.tif"):
            broken.ingest([write(tmp_path, "g.csv", police_csv([GOOD]))], "gg")
        assert broken.store.datasets.find("gg") is None
        broken.store.datasets.create("kept", None, "open")
        with pytest.raises(GeoError):
            broken.ingest([write(tmp_path, "k.csv", police_csv([GOOD]))], "kept")
        assert broken.store.datasets.find("kept") is not None  # it existed before: kept
    finally:
        broken.close()
