"""Palette changes that never change how a pixel looks: the remap from the old palette to the new.

Pixels store palette indices, so a new palette list needs a table old index -> new index. A
colour that stays keeps its look wherever it moves in the list; a removed colour becomes the one
`--map OLD=NEW` names, or else the remaining colour nearest to it by CIEDE2000 (the CIE's
perceptual colour difference, in CIELAB under D65). Pure: numpy, no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from place.errors import AdminError

# sRGB (D65) to CIE XYZ, and the D65 white point
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])


def hex_to_rgb(colors: Sequence[str]) -> np.ndarray:
    """`#rrggbb` colours as an (n, 3) array of 0..255."""
    return np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colors], dtype=float)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB 0..255, shape (..., 3), to CIELAB (D65)."""
    c = np.asarray(rgb, dtype=float) / 255
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE
    delta = 6 / 29
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of CIELAB colours (broadcast over the leading axes).

    Sharma, Wu and Dalal, "The CIEDE2000 color-difference formula: implementation notes,
    supplementary test data, and mathematical observations" (2005); kL = kC = kH = 1.
    """
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, dtype=float), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, dtype=float), -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    chroma = c1p * c2p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(chroma == 0, 0.0, dh)
    d_l = L2 - L1
    d_c = c2p - c1p
    d_h = 2 * np.sqrt(chroma) * np.sin(np.radians(dh) / 2)
    l_bar = (L1 + L2) / 2
    cp_bar = (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(
        np.abs(h1p - h2p) <= 180,
        h_sum / 2,
        np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2),
    )
    h_bar = np.where(chroma == 0, h_sum, h_bar)
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(cp_bar**7 / (cp_bar**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt(
        (d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h)
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Remap:
    """Old index -> new index (256 entries, so any byte of the canvas has one), and what
    became of each removed colour: (old colour, new colour, "mapped" or "nearest")."""

    table: np.ndarray
    removed: tuple[tuple[str, str, str], ...]
    size: int  # colours in the old palette: the indices a sound canvas holds

    @property
    def identity(self) -> bool:
        """No pixel changes its index (colours only added at the end, say)."""
        return bool((self.table[: self.size] == np.arange(self.size)).all())

    def describe(self) -> str:
        if not self.removed:
            return "every colour kept its look"
        parts = [
            f"{old} -> {new} ({'as mapped' if how == 'mapped' else 'nearest'})"
            for old, new, how in self.removed
        ]
        return "removed " + ", ".join(parts)


def parse_maps(items: Sequence[str]) -> dict[str, str]:
    """`--map OLD=NEW` values (`#rrggbb=#rrggbb`), lower-cased; a bad one is refused in a line."""
    maps: dict[str, str] = {}
    for item in items:
        old, sep, new = item.strip().lower().partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not _is_color(old) or not _is_color(new):
            raise AdminError(f"--map must look like '#ff4500=#be0039' (OLD=NEW), got {item!r}")
        maps[old] = new
    return maps


def plan_remap(old: Sequence[str], new: Sequence[str], maps: dict[str, str] | None = None) -> Remap:
    """The table that keeps every pixel's look: by colour value, then `maps`, then the nearest
    remaining colour. A `--map` whose OLD stays in the palette or is not in it, or whose NEW is
    not in the new palette, is refused: it would repaint pixels or map nothing."""
    maps = maps or {}
    where = {}
    for index, color in enumerate(new):
        where.setdefault(color, index)
    for old_color, new_color in maps.items():
        if old_color not in old:
            raise AdminError(f"--map {old_color}=...: {old_color} is not in the current palette")
        if old_color in where:
            raise AdminError(
                f"--map {old_color}=...: {old_color} stays in the new palette, so its pixels"
                " keep it; only removed colours can be mapped"
            )
        if new_color not in where:
            raise AdminError(f"--map ...={new_color}: {new_color} is not in the new palette")
    table = np.zeros(256, dtype=np.uint8)
    removed: list[tuple[str, str, str]] = []
    gone = [i for i, color in enumerate(old) if color not in where and color not in maps]
    nearest: dict[int, int] = {}
    if gone:
        distances = delta_e_2000(
            rgb_to_lab(hex_to_rgb([old[i] for i in gone]))[:, None, :],
            rgb_to_lab(hex_to_rgb(list(new)))[None, :, :],
        )
        nearest = dict(zip(gone, (int(j) for j in distances.argmin(axis=1)), strict=True))
    for index, color in enumerate(old):
        if color in where:
            table[index] = where[color]
        elif color in maps:
            table[index] = where[maps[color]]
            removed.append((color, maps[color], "mapped"))
        else:
            table[index] = nearest[index]
            removed.append((color, new[nearest[index]], "nearest"))
    # indices past the old palette (none on a sound canvas) keep their index if it still fits
    table[len(old) :] = np.where(np.arange(len(old), 256) < len(new), np.arange(len(old), 256), 0)
    return Remap(table, tuple(removed), len(old))


def _is_color(text: str) -> bool:
    return len(text) == 7 and text[0] == "#" and all(c in "0123456789abcdef" for c in text[1:])
