"""The export's CSV rows: the r/place 2022 dataset's columns and formats."""

from __future__ import annotations

import io

from place.config import LiveConfig
from place.snapshot.archive import Chunk, Row
from place.snapshot.export import timestamp, write_csv


def test_rows_in_the_dataset_format() -> None:
    config = LiveConfig(4, 4, ("#ffffff", "#ff4500"), cooldown_ms=0, open=True)
    rows = [
        Row((1, 0), 1_649_033_631_577, "ann", 3, 2, 1, 1, 1),
        Row((2, 0), 1_649_033_632_000, 'o"dd, name', 0, 0, 1, 1, 0),
        Row((3, 0), 1_649_033_633_005, "mod", 1, 1, 3, 2, 0),
        Row((4, 0), 1_649_033_634_000, "bob", 0, 1, 1, 1, 7),  # outside the palette
    ]
    text = io.StringIO()
    counts = write_csv(text, [Chunk((1, 0), (4, 0), 0, config, rows)])
    assert counts == (3, 1, 1, 1_649_033_631_577, 1_649_033_634_000)
    assert text.getvalue().splitlines() == [
        "timestamp,user_id,pixel_color,coordinate",
        '2022-04-04 00:53:51.577 UTC,ann,#FF4500,"3,2"',
        '2022-04-04 00:53:52.000 UTC,"o""dd, name",#FFFFFF,"0,0"',
        '2022-04-04 00:53:53.005 UTC,mod,#FFFFFF,"1,1,3,2"',
        '2022-04-04 00:53:54.000 UTC,bob,,"0,1"',
    ]


def test_timestamp() -> None:
    assert timestamp(1_649_033_631_577) == "2022-04-04 00:53:51.577 UTC"
    assert timestamp(0) == "1970-01-01 00:00:00.000 UTC"
