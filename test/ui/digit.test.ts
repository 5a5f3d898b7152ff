import { describe, expect, it } from "vitest";
import { mnistPixels, SIDE } from "../../src/ui/digit.js";

/** A w×h canvas of zeros with `fill(x, y)` ink. */
function canvas(w: number, h: number, fill: (x: number, y: number) => number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = fill(x, y);
  return out;
}

function moments(image: Float32Array) {
  let total = 0;
  let cx = 0;
  let cy = 0;
  let left = SIDE;
  let right = -1;
  let top = SIDE;
  let bottom = -1;
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      const v = image[y * SIDE + x];
      if (v <= 1e-9) continue;
      total += v;
      cx += v * (x + 0.5);
      cy += v * (y + 0.5);
      left = Math.min(left, x);
      right = Math.max(right, x);
      top = Math.min(top, y);
      bottom = Math.max(bottom, y);
    }
  }
  return {
    total,
    cx: cx / total,
    cy: cy / total,
    width: right - left + 1,
    height: bottom - top + 1,
  };
}

describe("mnistPixels", () => {
  it("is null without ink", () => {
    expect(mnistPixels(new Float32Array(280 * 280), 280, 280)).toBeNull();
  });

  it("maps a filled 200×200 square in a corner to the 20×20 block in the middle (hand-worked)", () => {
    // Scale 20/200 = 0.1; its centre (100, 100) goes to (14, 14): the block spans 4..24 exactly.
    const image = mnistPixels(
      canvas(280, 280, (x, y) => (x < 200 && y < 200 ? 1 : 0)),
      280,
      280,
    )!;
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const inside = x >= 4 && x < 24 && y >= 4 && y < 24;
        expect(image[y * SIDE + x]).toBeCloseTo(inside ? 1 : 0, 5);
      }
    }
  });

  it("fits the longer side to 20 pixels, keeps the aspect ratio, and centres the mass", () => {
    // A tall bar (the stroke of a "1"), off to the right and low, ink heavier at the bottom.
    const ink = canvas(280, 280, (x, y) =>
      x >= 200 && x < 222 && y >= 60 && y < 260 ? 0.5 + y / 520 : 0,
    );
    const image = mnistPixels(ink, 280, 280)!;
    const m = moments(image);
    // Exact up to where, within each output pixel, its ink lies (under 0.001 pixels here).
    expect(m.cx).toBeCloseTo(14, 3);
    expect(m.cy).toBeCloseTo(14, 3);
    // 200 tall → 20; 22 wide → 2.2, which covers 3 or 4 pixel columns.
    expect(m.height).toBeLessThanOrEqual(21);
    expect(m.height).toBeGreaterThanOrEqual(20);
    expect(m.width).toBeGreaterThanOrEqual(3);
    expect(m.width).toBeLessThanOrEqual(4);
    // Box filtering keeps the ink: total mass scales by (20/200)².
    const sourceTotal = ink.reduce((a, b) => a + b, 0);
    expect(m.total).toBeCloseTo(sourceTotal * 0.01, 3);
  });

  it("enlarges a small drawing the same way", () => {
    // 10×5 pixels at the top left: scale 2, so 20×10 in the output, mass at the centre.
    const image = mnistPixels(
      canvas(100, 100, (x, y) => (x < 10 && y < 5 ? 1 : 0)),
      100,
      100,
    )!;
    const m = moments(image);
    expect([m.width, m.height]).toEqual([20, 10]);
    expect([m.cx, m.cy]).toEqual([14, 14]);
    expect(Math.max(...image)).toBeCloseTo(1, 6);
  });
});
