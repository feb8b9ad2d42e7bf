"""The palette remap: colour by colour, CIEDE2000 nearest for removed colours. No Redis."""

from __future__ import annotations

import numpy as np
import pytest

from place.admin_palette import delta_e_2000, hex_to_rgb, parse_maps, plan_remap, rgb_to_lab
from place.errors import AdminError


@pytest.mark.parametrize(
    ("lab1", "lab2", "expected"),
    [  # Sharma, Wu and Dalal (2005), table 1: pairs 1, 7, 13, 17, 25 and 34
        ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
        ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
        ((50.0, 2.4900, -0.0010), (50.0, -2.4900, 0.0011), 7.2195),
        ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
        ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
    ],
)
def test_ciede2000_matches_the_published_test_data(lab1, lab2, expected) -> None:
    assert delta_e_2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)


def test_srgb_to_lab() -> None:
    lab = rgb_to_lab(hex_to_rgb(["#ffffff", "#000000", "#ff0000"]))
    assert lab[0] == pytest.approx([100, 0, 0], abs=0.01)
    assert lab[1] == pytest.approx([0, 0, 0], abs=0.01)
    assert lab[2] == pytest.approx([53.24, 80.09, 67.20], abs=0.01)


def test_a_reorder_maps_by_colour() -> None:
    remap = plan_remap(("#ffffff", "#000000", "#ff0000"), ("#ff0000", "#ffffff", "#000000"))
    assert remap.table[:3].tolist() == [1, 2, 0]
    assert remap.removed == () and not remap.identity


def test_removed_colours_take_their_map_or_the_nearest() -> None:
    old = ("#ffffff", "#000000", "#ff4500", "#be0039", "#ffd635", "#2450a4")
    new = ("#ffffff", "#000000", "#ff0000", "#ffff00", "#0000ff")
    remap = plan_remap(old, new, parse_maps(["#BE0039=#000000"]))
    assert remap.table[:6].tolist() == [0, 1, 2, 1, 3, 4]
    assert remap.removed == (
        ("#ff4500", "#ff0000", "nearest"),
        ("#be0039", "#000000", "mapped"),
        ("#ffd635", "#ffff00", "nearest"),
        ("#2450a4", "#0000ff", "nearest"),
    )


def test_appending_colours_moves_no_index() -> None:
    assert plan_remap(("#ffffff", "#000000"), ("#ffffff", "#000000", "#123456")).identity


@pytest.mark.parametrize(
    ("maps", "message"),
    [
        (["#ff0000"], "--map must look like"),
        (["red=#000000"], "--map must look like"),
        (["#ffffff=#000000"], "#ffffff stays in the new palette"),
        (["#00ff00=#000000"], "#00ff00 is not in the current palette"),
        (["#ff0000=#0000ff"], "#0000ff is not in the new palette"),
    ],
)
def test_bad_maps_are_refused(maps, message) -> None:
    with pytest.raises(AdminError, match=message):
        plan_remap(("#ffffff", "#000000", "#ff0000"), ("#ffffff", "#000000"), parse_maps(maps))
