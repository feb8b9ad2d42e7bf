/** Palette colours: `#rrggbb` strings to packed RGBA words and readable names. Pure. */

/** Shown for a palette index the palette does not have (should not happen; visible if it does). */
export const MISSING_COLOR = '#ff00ff';

/** Parse `#rrggbb` (or `#rgb`) into [r, g, b]; null for anything else. */
export function parseHex(hex: string): [number, number, number] | null {
  const m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(hex.trim());
  if (!m) return null;
  let h = m[1];
  if (h.length === 3) h = h[0] + h[0] + h[1] + h[1] + h[2] + h[2];
  const v = parseInt(h, 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/**
 * A 256-entry table from palette index to an RGBA word as stored in ImageData memory on a
 * little-endian host (bytes r, g, b, a => word a<<24 | b<<16 | g<<8 | r).
 * Indices past the palette map to MISSING_COLOR.
 */
export function paletteTable(palette: readonly string[]): Uint32Array {
  const table = new Uint32Array(256);
  const missing = packRGBA(parseHex(MISSING_COLOR)!);
  table.fill(missing);
  palette.slice(0, 256).forEach((hex, i) => {
    const rgb = parseHex(hex);
    table[i] = rgb ? packRGBA(rgb) : missing;
  });
  return table;
}

export function packRGBA([r, g, b]: [number, number, number], a = 255): number {
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

export function unpackRGBA(word: number): [number, number, number, number] {
  return [word & 255, (word >>> 8) & 255, (word >>> 16) & 255, word >>> 24];
}

export function toHex([r, g, b]: readonly number[]): string {
  return '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('');
}

/** Relative luminance in [0, 1], to pick a readable outline or text colour on top of a swatch. */
export function luminance(hex: string): number {
  const rgb = parseHex(hex);
  if (!rgb) return 0;
  const [r, g, b] = rgb.map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Names of r/place 2022's 32 colours (the default palette), for labels and screen readers. */
const NAMES: Record<string, string> = {
  '#ffffff': 'white',
  '#d4d7d9': 'light grey',
  '#898d90': 'grey',
  '#515252': 'dark grey',
  '#000000': 'black',
  '#ffb470': 'beige',
  '#9c6926': 'brown',
  '#6d482f': 'dark brown',
  '#ff99aa': 'pink',
  '#ff3881': 'magenta',
  '#de107f': 'dark magenta',
  '#e4abff': 'lavender',
  '#b44ac0': 'purple',
  '#811e9f': 'dark purple',
  '#94b3ff': 'pale blue',
  '#6a5cff': 'periwinkle',
  '#493ac1': 'indigo',
  '#51e9f4': 'light blue',
  '#3690ea': 'blue',
  '#2450a4': 'dark blue',
  '#00ccc0': 'light teal',
  '#009eaa': 'teal',
  '#00756f': 'dark teal',
  '#7eed56': 'light green',
  '#00cc78': 'green',
  '#00a368': 'dark green',
  '#fff8b8': 'pale yellow',
  '#ffd635': 'yellow',
  '#ffa800': 'orange',
  '#ff4500': 'red',
  '#be0039': 'dark red',
  '#6d001a': 'burgundy',
};

export function colorName(hex: string): string {
  return NAMES[hex.toLowerCase()] ?? hex.toLowerCase();
}
