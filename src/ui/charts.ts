import uPlot from "./vendor/uPlot.esm.js";

export interface SeriesSpec {
  label: string;
  color: string;
  dash?: number[];
  /** Draw a marker at every point (sparse series: evaluations). */
  points?: boolean;
}

/** Between two draws the page does ten times the work of one. */
const DRAW_SHARE = 10;

/** [iterations, values] of one series; the chart aligns them on one iteration axis. */
export type Table = [number[], number[]];

export const PALETTE = [
  "#2563eb",
  "#dc2626",
  "#059669",
  "#d97706",
  "#7c3aed",
  "#0891b2",
  "#db2777",
];

/**
 * A line chart of series over iterations, uPlot underneath. Its element carries `data-points`,
 * the number of plotted values, so whoever watches it (tests included) sees it grow.
 */
export class LineChart {
  readonly element: HTMLElement;
  private plot: uPlot | null = null;
  private tables: Table[];
  /** Whether a draw of the points added since the last one is due. */
  private pending = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private frame = 0;
  /** When the last draw ended, and what it cost (ms). */
  private drawnAt = 0;
  private drawCost = 0;
  private readonly resize: ResizeObserver;

  constructor(
    private readonly title: string,
    private readonly yLabel: string,
    private readonly series: SeriesSpec[],
    /** Fixed lower and upper bounds of y (null: from the data). */
    private readonly yRange?: [number | null, number | null],
  ) {
    this.element = document.createElement("figure");
    this.element.className = "chart";
    this.element.setAttribute("role", "img");
    this.element.setAttribute("aria-label", title);
    this.element.dataset.points = "0";
    this.tables = series.map((): Table => [[], []]);
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(this.element);
  }

  private options(width: number): uPlot.Options {
    return {
      title: this.title,
      width,
      height: Math.max(200, Math.min(300, Math.round(width * 0.55))),
      scales: {
        x: { time: false },
        ...(this.yRange ? { y: { range: (_u, min, max) => this.range(min, max) } } : {}),
      },
      axes: [
        { label: "iteration", stroke: "#475569", grid: { stroke: "#e2e8f0" } },
        { label: this.yLabel, stroke: "#475569", grid: { stroke: "#e2e8f0" }, size: 60 },
      ],
      series: [
        { label: "iteration" },
        ...this.series.map(
          (s): uPlot.Series => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            dash: s.dash,
            spanGaps: true,
            points: { show: s.points ?? false, size: 6, fill: s.color },
          }),
        ),
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
  }

  private range(min: number, max: number): uPlot.Range.MinMax {
    const [low, high] = this.yRange!;
    if (min === null || max === null) return [low ?? 0, high ?? 1];
    const pad = Math.max((max - min) * 0.1, 0.01);
    return [low ?? min - pad, high === null ? max + pad : Math.min(high, Math.max(max + pad, min))];
  }

  private fit(): void {
    const width = Math.floor(this.element.clientWidth);
    if (width <= 0) return;
    if (!this.plot) {
      this.plot = new uPlot(this.options(width), this.aligned(), this.element);
    } else if (Math.abs(this.plot.width - width) > 1) {
      this.plot.setSize({ width, height: Math.max(200, Math.min(300, Math.round(width * 0.55))) });
    }
  }

  private aligned(): uPlot.AlignedData {
    const nonEmpty = this.tables.some((t) => t[0].length > 0);
    if (!nonEmpty) return [[], ...this.tables.map(() => [])];
    // Series sampled at different iterations share one x axis; missing values are null.
    return uPlot.join(this.tables.map((t) => [Float64Array.from(t[0]), Float64Array.from(t[1])]));
  }

  /** Replaces series i's points. */
  set(i: number, table: Table): void {
    this.tables[i] = table;
    this.redraw();
  }

  /** Adds one point to series i (iterations only grow, so order is kept). */
  add(i: number, iteration: number, value: number | undefined): void {
    if (value === undefined || value === null || !Number.isFinite(value)) return;
    const [xs, ys] = this.tables[i];
    if (xs.length > 0 && xs[xs.length - 1] === iteration) ys[ys.length - 1] = value;
    else if (xs.length > 0 && xs[xs.length - 1] > iteration) return;
    else {
      xs.push(iteration);
      ys.push(value);
    }
    this.redraw();
  }

  /**
   * Draws the points added since the last draw, at most once a frame and, once the chart is
   * large, seldom enough that drawing takes a tenth of the page's time: a job that evaluates
   * often sends hundreds of points a second, and each draw costs the number of points so far.
   */
  private redraw(): void {
    this.element.dataset.points = String(this.tables.reduce((n, t) => n + t[0].length, 0));
    if (this.pending) return;
    this.pending = true;
    const wait = Math.max(0, this.drawnAt + DRAW_SHARE * this.drawCost - performance.now());
    this.timer = setTimeout(() => {
      this.frame = requestAnimationFrame(() => {
        const start = performance.now();
        this.plot?.setData(this.aligned());
        this.drawnAt = performance.now();
        this.drawCost = this.drawnAt - start;
        this.pending = false;
      });
    }, wait);
  }

  destroy(): void {
    clearTimeout(this.timer);
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.plot?.destroy();
  }
}
