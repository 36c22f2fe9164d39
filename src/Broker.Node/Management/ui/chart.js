// Small line chart drawn as inline SVG, for samples collected in the browser.
import { h } from './util.js';

const PAD = { left: 58, right: 12, top: 10, bottom: 24 };
const HEIGHT = 190;

/** 1, 2, 2.5 or 5 times a power of ten, at least `raw`. */
function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

/**
 * createChart({ id, series: [{ key, label, color }], format: (v) => '1.0/s',
 *               windowMs: 300000, gapMs: 15000 }) -> { element, update(samples) }
 * samples: [{ t: msSinceEpoch, values: { key: number } }], oldest first.
 * A gap longer than gapMs between two samples breaks the line.
 */
export function createChart({ id, series, format = String, windowMs = 5 * 60 * 1000, gapMs = 15000 }) {
  const svg = h('svg:svg', { class: 'chart-svg', role: 'img', 'aria-label': id, preserveAspectRatio: 'none' });
  const legend = h('div', { class: 'chart-legend' });
  const element = h('div', { class: 'chart', id, testid: id }, svg, legend);

  function update(samples) {
    const width = Math.max(320, Math.round(element.clientWidth || 600));
    const plotW = width - PAD.left - PAD.right;
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const now = Date.now();
    const start = now - windowMs;
    const visible = samples.filter((s) => s.t >= start && s.t <= now + 1000);

    let max = 0;
    for (const s of visible) for (const { key } of series) max = Math.max(max, s.values[key] || 0);
    const step = niceStep(max / 4);
    const top = step * Math.max(1, Math.ceil(max / step));
    const x = (t) => PAD.left + ((t - start) / windowMs) * plotW;
    const y = (v) => PAD.top + plotH - (v / top) * plotH;

    svg.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
    svg.setAttribute('width', '100%');
    svg.setAttribute('height', String(HEIGHT));
    svg.replaceChildren();

    for (let v = 0; v <= top + step / 2; v += step) {
      svg.append(
        h('svg:line', { class: 'grid', x1: PAD.left, x2: width - PAD.right, y1: y(v), y2: y(v) }),
        h('svg:text', { class: 'axis', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, format(v)));
    }
    const minutes = Math.round(windowMs / 60000);
    for (let m = minutes; m >= 0; m -= 1) {
      const tx = x(now - m * 60000);
      svg.append(h('svg:text', { class: 'axis', x: tx, y: HEIGHT - 6, 'text-anchor': m === 0 ? 'end' : 'middle' },
        m === 0 ? 'now' : `-${m}m`));
    }

    for (const { key, color } of series) {
      let d = '';
      let prevT = null;
      for (const s of visible) {
        const v = s.values[key];
        if (typeof v !== 'number' || !Number.isFinite(v)) { prevT = null; continue; }
        const cmd = prevT === null || s.t - prevT > gapMs ? 'M' : 'L';
        d += `${cmd}${x(s.t).toFixed(1)},${y(v).toFixed(1)} `;
        if (cmd === 'M') d += 'l0,0 '; // a lone sample still shows as a dot
        prevT = s.t;
      }
      svg.append(h('svg:path', { class: 'line', d: d.trim() || 'M0,0', stroke: color, dataset: { series: key } }));
    }

    const last = visible[visible.length - 1];
    legend.replaceChildren(...series.map(({ key, label, color }) => {
      const v = last ? last.values[key] : undefined;
      return h('span', { class: 'legend-item', dataset: { series: key } },
        h('span', { class: 'swatch', style: { background: color } }),
        `${label} `, h('strong', {}, typeof v === 'number' ? format(v) : '–'));
    }));
  }

  return { element, update };
}

/** Keeps samples for the last `keepMs`, oldest first. */
export class SampleBuffer {
  constructor(keepMs = 5 * 60 * 1000 + 30000) { this.keepMs = keepMs; this.samples = []; }
  push(values, t = Date.now()) {
    this.samples.push({ t, values });
    const cutoff = t - this.keepMs;
    while (this.samples.length && this.samples[0].t < cutoff) this.samples.shift();
  }
}
