// DOM building and value formatting shared by the pages.

/**
 * h('button', { testid: 'x', class: 'btn', onclick: fn }, 'Label')
 * - testid -> data-testid, dataset -> data-*, on<event> -> addEventListener,
 *   style: { prop: value } (CSSOM, so no inline style attribute is needed)
 * - value / checked / disabled / hidden / selected are set as properties
 * - children: strings, numbers, nodes, arrays; null/undefined/false are skipped
 */
export function h(tag, attrs = {}, ...children) {
  const isSvg = tag.startsWith('svg:');
  const el = isSvg
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'testid') el.setAttribute('data-testid', value);
    else if (key === 'dataset') Object.entries(value).forEach(([k, v]) => { el.dataset[k] = v; });
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (['value', 'checked', 'disabled', 'hidden', 'selected'].includes(key) && !isSvg) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) { el.replaceChildren(); return el; }

/** Builds '#/queues/%2F/name' style links. */
export function route(...segments) {
  return '#/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
}

export const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function fmtCount(v) {
  return num(v) === null ? '' : String(v);
}

export function fmtRate(v) {
  if (num(v) === null) return '';
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : 2;
  return `${v.toFixed(digits)}/s`;
}

export function fmtBytes(v) {
  if (num(v) === null) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = v;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
  return i === 0 ? `${value} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[i]}`;
}

export function fmtByteRate(v) {
  return num(v) === null ? '' : `${fmtBytes(Math.round(v))}/s`;
}

export function fmtDuration(ms) {
  if (num(ms) === null) return '';
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export function fmtBool(v) {
  if (v === true) return 'yes';
  if (v === false) return 'no';
  return '';
}

export function fmtTime(ms) {
  if (num(ms) === null) return '';
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
}

/** Compact one-line rendering of an arguments / headers / definition object. */
export function fmtArgs(obj) {
  if (!obj || typeof obj !== 'object') return '';
  return Object.entries(obj)
    .map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : v}`)
    .join(', ');
}

/** Reads a dotted path: pick(q, 'message_stats.publish_details.rate'). */
export function pick(obj, path) {
  let cur = obj;
  for (const part of path.split('.')) {
    if (cur === null || cur === undefined || typeof cur !== 'object') return undefined;
    cur = cur[part];
  }
  return cur;
}

export const exchangeLabel = (name) => (name === '' ? '(AMQP default)' : name);

/** Tags come as an array in 3.10 and as a comma string in older APIs. */
export function tagList(tags) {
  if (Array.isArray(tags)) return tags.map(String).filter(Boolean);
  if (typeof tags === 'string') return tags.split(',').map((t) => t.trim()).filter(Boolean);
  return [];
}

/** Turns a typed text into a JSON value: numbers and true/false keep their type. */
export function parseValue(text) {
  const t = text.trim();
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  if (t === 'true') return true;
  if (t === 'false') return false;
  return text;
}
