/**
 * A drawing made to look like an MNIST digit, as LeCun et al. prepared theirs: the ink's bounding
 * box scaled (keeping its aspect ratio) to fit 20×20, then placed in 28×28 so that its centre of
 * mass falls on the image's centre.
 *
 * Scaling keeps the centre of mass, so mapping source point p to `(p - c)·s + 14` (c the source
 * centre of mass, s = 20 / the box's longer side) puts it exactly at (14, 14). Each output pixel is
 * the ink covering its area (box-filter resampling: exact coverage, for any s above or below 1).
 */
export const SIDE = 28;
const BOX = 20;

/** `ink` is width×height values in [0, 1], row-major; null when there is no ink at all. */
export function mnistPixels(ink: Float32Array, width: number, height: number): Float32Array | null {
  let total = 0;
  let sx = 0;
  let sy = 0;
  let left = width;
  let right = -1;
  let top = height;
  let bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = ink[y * width + x];
      if (v <= 0) continue;
      total += v;
      // A pixel's mass sits at its centre.
      sx += v * (x + 0.5);
      sy += v * (y + 0.5);
      if (x < left) left = x;
      if (x > right) right = x;
      if (y < top) top = y;
      if (y > bottom) bottom = y;
    }
  }
  if (total === 0) return null;
  const scale = BOX / Math.max(right - left + 1, bottom - top + 1);
  const wx = coverage(width, sx / total, scale);
  const wy = coverage(height, sy / total, scale);
  const out = new Float32Array(SIDE * SIDE);
  // Separable: rows first into a height×28 buffer, then columns.
  const rows = new Float64Array(height * SIDE);
  for (let y = top; y <= bottom; y++) {
    for (let x = left; x <= right; x++) {
      const v = ink[y * width + x];
      if (v <= 0) continue;
      for (const [tx, w] of wx[x]) rows[y * SIDE + tx] += v * w;
    }
  }
  for (let y = top; y <= bottom; y++) {
    for (const [ty, w] of wy[y]) {
      for (let tx = 0; tx < SIDE; tx++) out[ty * SIDE + tx] += rows[y * SIDE + tx] * w;
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, out[i]);
  return out;
}

/**
 * For each source column (or row) i, the output pixels its span [i, i+1) lands on after
 * `t = (p - centre)·scale + 14`, each with the length of the overlap.
 */
function coverage(length: number, centre: number, scale: number): [number, number][][] {
  const spans: [number, number][][] = [];
  for (let i = 0; i < length; i++) {
    const from = (i - centre) * scale + SIDE / 2;
    const to = from + scale;
    const span: [number, number][] = [];
    for (let t = Math.max(0, Math.floor(from)); t < Math.min(SIDE, Math.ceil(to)); t++) {
      const overlap = Math.min(to, t + 1) - Math.max(from, t);
      if (overlap > 0) span.push([t, overlap]);
    }
    spans.push(span);
  }
  return spans;
}
