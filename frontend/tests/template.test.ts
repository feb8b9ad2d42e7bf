import { describe, expect, it } from 'vitest';
import {
  CLEAR,
  diffTemplate,
  isShareable,
  loadErrorText,
  matchPalette,
  nameOf,
  nextWrong,
  parseSaved,
  parseTemplateParams,
  templateLink,
  type Placed,
} from '../src/lib/template';

const PALETTE = ['#ffffff', '#000000', '#ff4500', '#2450a4'];

/** RGBA bytes from [r, g, b, a] pixels. */
function rgba(...pixels: number[][]): Uint8ClampedArray {
  return new Uint8ClampedArray(pixels.flat());
}

describe('matching colours to the palette', () => {
  it('takes exact colours as they are and the rest to the nearest', () => {
    const got = matchPalette(
      rgba(
        [255, 255, 255, 255], // white
        [255, 69, 0, 255], // red, exact
        [250, 80, 10, 255], // almost red
        [10, 10, 10, 255], // almost black
        [40, 80, 160, 255], // almost dark blue
        [240, 240, 240, 255], // off-white
      ),
      PALETTE,
    );
    expect([...got]).toEqual([0, 2, 2, 1, 3, 0]);
  });

  it('leaves transparent pixels out of the template', () => {
    const got = matchPalette(rgba([0, 0, 0, 0], [0, 0, 0, 127], [0, 0, 0, 128], [255, 69, 0, 255]), PALETTE);
    expect([...got]).toEqual([CLEAR, CLEAR, 1, 2]);
  });

  it('follows the palette it is given', () => {
    expect([...matchPalette(rgba([255, 69, 0, 255]), ['#000000', '#ff0000'])]).toEqual([1]);
    expect([...matchPalette(rgba([255, 69, 0, 255]), [])]).toEqual([CLEAR]);
  });
});

describe('comparing a template with the canvas', () => {
  // a 4x3 canvas, all white; a 2x2 template at (1, 1): red, black / clear, red
  const canvas = () => ({ indices: new Uint8Array(12), width: 4, height: 3 });
  const tpl = (x = 1, y = 1): Placed => ({ indices: Uint8Array.from([2, 1, CLEAR, 2]), width: 2, height: 2, x, y });

  it('counts the wrong pixels and marks them', () => {
    const c = canvas();
    const mask = new Uint32Array(4);
    expect(diffTemplate(tpl(), c, undefined, mask, 7)).toEqual({ total: 3, wrong: 3 });
    expect([...mask]).toEqual([7, 7, 0, 7]);
    c.indices[1 * 4 + 1] = 2; // the right red at (1, 1)
    expect(diffTemplate(tpl(), c, undefined, mask, 7)).toEqual({ total: 3, wrong: 2 });
    expect([...mask]).toEqual([0, 7, 0, 7]);

    // or each in the colour it should be
    diffTemplate(tpl(), c, undefined, mask, Uint32Array.from([10, 11, 12, 13]));
    expect([...mask]).toEqual([0, 11, 0, 12]);
  });

  it('counts a pixel the player just placed right as done', () => {
    const c = canvas();
    const shown = (i: number) => (i === 1 * 4 + 2 ? 1 : c.indices[i]); // black in flight at (2, 1)
    expect(diffTemplate(tpl(), c, shown).wrong).toBe(2);
  });

  it('counts only what lies on the canvas', () => {
    expect(diffTemplate(tpl(3, 2), canvas())).toEqual({ total: 1, wrong: 1 });
    expect(diffTemplate(tpl(-1, -1), canvas())).toEqual({ total: 1, wrong: 1 });
    expect(diffTemplate(tpl(9, 9), canvas())).toEqual({ total: 0, wrong: 0 });
  });

  it('finds the next wrong pixel in reading order, wrapping, with its colour', () => {
    const c = canvas();
    expect(nextWrong(tpl(), c, null)).toEqual({ x: 1, y: 1, c: 2 });
    expect(nextWrong(tpl(), c, { x: 1, y: 1 })).toEqual({ x: 2, y: 1, c: 1 });
    expect(nextWrong(tpl(), c, { x: 2, y: 1 })).toEqual({ x: 2, y: 2, c: 2 }); // (1, 2) is clear
    expect(nextWrong(tpl(), c, { x: 2, y: 2 })).toEqual({ x: 1, y: 1, c: 2 }); // wraps
    expect(nextWrong(tpl(), c, { x: 0, y: 0 })).toEqual({ x: 1, y: 1, c: 2 }); // outside: from the start
    c.indices.set([2, 1], 1 * 4 + 1);
    c.indices[2 * 4 + 2] = 2;
    expect(nextWrong(tpl(), c, null)).toBeNull();
  });
});

describe('share links and what the browser keeps', () => {
  it('reads ?template=&tx=&ty=', () => {
    expect(parseTemplateParams('?template=https%3A%2F%2Fa.example%2Fart.png&tx=12&ty=-3&x=5')).toEqual({
      src: 'https://a.example/art.png',
      x: 12,
      y: -3,
    });
    expect(parseTemplateParams('?template=/art.png')).toEqual({ src: '/art.png', x: 0, y: 0 });
    expect(parseTemplateParams('?template=https://a.example/a.png&tx=1.5&ty=no')).toEqual({
      src: 'https://a.example/a.png',
      x: 0,
      y: 0,
    });
    expect(parseTemplateParams('?x=1')).toBeNull();
    expect(parseTemplateParams('?template=javascript:alert(1)')).toBeNull();
    expect(parseTemplateParams('?template=data:image/png;base64,AAAA')).toBeNull();
  });

  it('writes a link that opens the template and a view on it, keeping the rest', () => {
    const link = templateLink('https://place.example/?zoom=4&lang=fr#top', { src: 'https://a.example/a b.png', x: 10, y: 20 }, { width: 30, height: 10 });
    const url = new URL(link);
    expect(url.searchParams.get('template')).toBe('https://a.example/a b.png');
    expect([url.searchParams.get('tx'), url.searchParams.get('ty')]).toEqual(['10', '20']);
    expect([url.searchParams.get('x'), url.searchParams.get('y')]).toEqual(['25', '25']);
    expect(url.searchParams.get('lang')).toBe('fr');
    expect(url.hash).toBe('');
    expect(parseTemplateParams(url.search)).toEqual({ src: 'https://a.example/a b.png', x: 10, y: 20 });
  });

  it('shares only addresses, never an uploaded image', () => {
    expect(isShareable('https://a.example/a.png')).toBe(true);
    expect(isShareable('/api/canvas.png')).toBe(true);
    expect(isShareable('data:image/png;base64,AAAA')).toBe(false);
    expect(isShareable('blob:https://x/1')).toBe(false);
    expect(isShareable('ftp://a/b.png')).toBe(false);
  });

  it('names templates after their file', () => {
    expect(nameOf('https://a.example/art/flag%20v2.png?x=1')).toBe('flag v2.png');
    expect(nameOf('https://a.example/')).toBe('a.example');
    expect(nameOf('data:image/png;base64,AAAA')).toBe('uploaded image');
  });

  it('reads back what it kept, dropping what is malformed', () => {
    expect(parseSaved(null)).toEqual([]);
    expect(parseSaved('not json')).toEqual([]);
    expect(parseSaved('{"src":"x"}')).toEqual([]);
    const kept = parseSaved(JSON.stringify([{ id: 'a', src: '/a.png', x: 3.4, y: 'no', opacity: 7, visible: false }, { x: 1 }, null]));
    expect(kept).toEqual([{ id: 'a', src: '/a.png', name: 'a.png', x: 3, y: 0, opacity: 1, visible: false }]);
  });

  it('says why an image did not load, naming CORS', () => {
    expect(loadErrorText('https://art.example/a.png', 'network')).toMatch(/art\.example.*CORS.*Access-Control-Allow-Origin/);
    expect(loadErrorText('/a.png', 'http', 'HTTP 404')).toBe('The image server answered HTTP 404.');
  });
});
