// SPDX-License-Identifier: LGPL-2.1-or-later
// The index page's built-in style sheet and icon.
/** Built-in look of the index page, used when `<webDir>/style.css` or `favicon.ico` is not installed. */

export const DEFAULT_STYLE_CSS = `:root {
  color-scheme: light dark;
  --text: #222;
  --background: #fafafa;
  --muted: #666;
  --rule: #ddd;
  --heading-cell: #eee;
  --link: #0b57d0;
  --neighbours: #1a7f5a;
  --internet: #c05a00;
  --grid: #ccc;
}
@media (prefers-color-scheme: dark) {
  :root {
    --text: #e6e6e6;
    --background: #161616;
    --muted: #a8a8a8;
    --rule: #3a3a3a;
    --heading-cell: #262626;
    --link: #8ab4f8;
    --neighbours: #4cc38a;
    --internet: #f5a35c;
    --grid: #444;
  }
}
body {
  font-family: system-ui, sans-serif;
  margin: 2em auto;
  max-width: 72em;
  padding: 0 1em;
  color: var(--text);
  background: var(--background);
}
a { color: var(--link); }
h1 { font-weight: 600; }
h2 { margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: start; padding: 0.3em 0.6em; border-bottom: 1px solid var(--rule); vertical-align: top; }
thead th { background: var(--heading-cell); }
tbody th { font-weight: normal; }
td.num { text-align: end; white-space: nowrap; }
code { font-size: 0.85em; word-break: break-all; }
.disabled { color: var(--muted); }
.summary { font-size: 1.25em; }
figure { margin: 1em 0; }
svg.chart { width: 100%; max-width: 48em; height: auto; display: block; }
svg.chart .neighbours, .key.neighbours { fill: var(--neighbours); background: var(--neighbours); }
svg.chart .internet, .key.internet { fill: var(--internet); background: var(--internet); }
svg.chart .grid { stroke: var(--grid); stroke-width: 1; }
svg.chart .axis { fill: var(--muted); font-size: 12px; }
.key { display: inline-block; width: 0.9em; height: 0.9em; vertical-align: middle; }
dl.limits { display: grid; grid-template-columns: max-content auto; gap: 0.3em 1.2em; }
dl.limits dd { margin: 0; }
`;

/** Draws the 16×16 icon: a blue disc on transparency, as a 32-bit BMP inside an ICO container. */
function makeFavicon(): Buffer {
  const size = 16;
  const pixelBytes = size * size * 4;
  const maskBytes = size * 4; // 1 bit per pixel, rows padded to 4 bytes
  const bmpBytes = 40 + pixelBytes + maskBytes;
  const ico = Buffer.alloc(6 + 16 + bmpBytes);

  // ICONDIR: reserved, type 1 (icon), one image.
  ico.writeUInt16LE(0, 0);
  ico.writeUInt16LE(1, 2);
  ico.writeUInt16LE(1, 4);
  // ICONDIRENTRY: width, height, colours, reserved, planes, bpp, size, offset.
  ico.writeUInt8(size, 6);
  ico.writeUInt8(size, 7);
  ico.writeUInt16LE(1, 10);
  ico.writeUInt16LE(32, 12);
  ico.writeUInt32LE(bmpBytes, 14);
  ico.writeUInt32LE(22, 18);
  // BITMAPINFOHEADER; the height counts the XOR and AND bitmaps together, hence twice the size.
  const bmp = 22;
  ico.writeUInt32LE(40, bmp);
  ico.writeInt32LE(size, bmp + 4);
  ico.writeInt32LE(size * 2, bmp + 8);
  ico.writeUInt16LE(1, bmp + 12);
  ico.writeUInt16LE(32, bmp + 14);
  ico.writeUInt32LE(pixelBytes + maskBytes, bmp + 20);
  // Pixels, BGRA, bottom row first; the AND mask stays all zero because alpha does the masking.
  const centre = (size - 1) / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = Math.hypot(x - centre, y - centre) <= size / 2 - 0.5;
      const at = bmp + 40 + (y * size + x) * 4;
      ico.writeUInt8(0xc8, at); // blue
      ico.writeUInt8(0x78, at + 1); // green
      ico.writeUInt8(0x28, at + 2); // red
      ico.writeUInt8(inside ? 0xff : 0x00, at + 3);
    }
  }
  return ico;
}

export const DEFAULT_FAVICON_ICO: Buffer = makeFavicon();
