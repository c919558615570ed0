// The balance-over-time chart: inline SVG drawn from each transaction's `balance_after`.
//
// The balance is a step function (it holds until the next transaction), so it is drawn as
// steps. The SVG is drawn at the container's real pixel width (and redrawn when that changes)
// so its labels stay readable from a phone to a desktop. Long histories are downsampled to at
// most a minimum and a maximum per pixel column, which keeps every peak and trough visible:
// 10,000 transactions draw as about a thousand points.

import { h, money, replace, svg } from './dom.js';

const HEIGHT = 260;
const MARGIN = { top: 16, right: 18, bottom: 34, left: 72 };
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [
  SECOND, 5 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY,
];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/// Turns transactions (any order) into chart points, oldest first. The value is a number only
/// for the y coordinate; `label` keeps the API's exact string for display.
export function pointsFrom(transactions) {
  return transactions
    .map((t) => ({ time: Date.parse(t.created_at), id: t.id, value: Number(t.balance_after), label: t.balance_after, at: t.created_at }))
    .filter((p) => Number.isFinite(p.time) && Number.isFinite(p.value))
    .sort((a, b) => a.time - b.time || a.id - b.id);
}

/// A chart element that draws `points` and redraws itself when its width changes.
export function balanceChart(points, { caption = '', title = 'Balance over time' } = {}) {
  const holder = h('div', { class: 'chart' });
  const readout = h('p', { class: 'chart-readout muted', 'aria-hidden': 'true' }, points.length ? 'Point at the chart to read a balance.' : '');
  const figure = h('figure', { class: 'chart-figure' }, holder, readout, caption ? h('figcaption', { class: 'muted' }, caption) : null);
  let lastWidth = 0;
  const draw = () => {
    const width = Math.max(280, Math.floor(holder.clientWidth || 640));
    if (width === lastWidth) return;
    lastWidth = width;
    replace(holder, drawChart(points, width, readout, title));
  };
  if (typeof ResizeObserver === 'function') new ResizeObserver(draw).observe(holder);
  requestAnimationFrame(draw);
  return figure;
}

function drawChart(points, width, readout, title) {
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const first = points[0];
  const last = points[points.length - 1];
  const summary = points.length
    ? `${title}: ${points.length} transaction${points.length === 1 ? '' : 's'} from ${first.at.slice(0, 10)} to ${last.at.slice(0, 10)}; latest balance ${money(last.label)}.`
    : `${title}: no transactions yet.`;
  const root = svg('svg', { width, height: HEIGHT, viewBox: `0 0 ${width} ${HEIGHT}`, role: 'img', 'aria-label': summary, class: 'chart-svg' }, svg('title', {}, summary));
  if (!points.length) {
    root.append(svg('text', { x: width / 2, y: HEIGHT / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'No transactions yet'));
    return root;
  }

  // Domains. One point (or all at one instant) gets a day around it; movements within less
  // than a minute get a minute around them, so the axis reads in seconds, not milliseconds.
  let [timeMin, timeMax] = [first.time, last.time];
  if (timeMax === timeMin) {
    timeMin -= 12 * HOUR;
    timeMax += 12 * HOUR;
  } else if (timeMax - timeMin < MINUTE) {
    const middle = (timeMin + timeMax) / 2;
    timeMin = middle - MINUTE / 2;
    timeMax = middle + MINUTE / 2;
  }
  let valueMax = 0;
  for (const p of points) valueMax = Math.max(valueMax, p.value);
  const valueTicks = niceTicks(valueMax);
  const valueTop = valueTicks[valueTicks.length - 1];
  const x = (time) => MARGIN.left + ((time - timeMin) / (timeMax - timeMin)) * plotWidth;
  const y = (value) => MARGIN.top + plotHeight - (value / valueTop) * plotHeight;

  // Grid and y axis.
  for (const tick of valueTicks) {
    root.append(
      svg('line', { x1: MARGIN.left, x2: MARGIN.left + plotWidth, y1: y(tick), y2: y(tick), class: tick === 0 ? 'chart-axis' : 'chart-grid' }),
      svg('text', { x: MARGIN.left - 8, y: y(tick), dy: '0.32em', 'text-anchor': 'end', class: 'chart-label' }, formatValue(tick)),
    );
  }
  // X axis.
  for (const tick of timeAxis(timeMin, timeMax, Math.max(2, Math.floor(plotWidth / 110)))) {
    root.append(
      svg('line', { x1: x(tick.time), x2: x(tick.time), y1: MARGIN.top + plotHeight, y2: MARGIN.top + plotHeight + 5, class: 'chart-axis' }),
      svg('text', { x: x(tick.time), y: MARGIN.top + plotHeight + 20, 'text-anchor': anchorFor(x(tick.time), width), class: 'chart-label chart-time' }, tick.label),
    );
  }

  // The line: steps through the (downsampled) points.
  const drawn = downsample(points, x, plotWidth);
  let line = `M${x(drawn[0].time).toFixed(1)},${y(drawn[0].value).toFixed(1)}`;
  for (let i = 1; i < drawn.length; i += 1) {
    line += `H${x(drawn[i].time).toFixed(1)}V${y(drawn[i].value).toFixed(1)}`;
  }
  // The balance holds from the last transaction on, to the right edge (which is past it when
  // the span was widened around one point or a burst of movements within a minute).
  if (points.length === 1) line = `M${x(first.time).toFixed(1)},${y(first.value).toFixed(1)}`;
  const rightEdge = MARGIN.left + plotWidth;
  if (x(last.time) < rightEdge - 0.5) line += `H${rightEdge}`;
  const startX = x(first.time);
  const baseline = y(0).toFixed(1);
  root.append(
    svg('path', { d: `${line}V${baseline}H${startX.toFixed(1)}Z`, class: 'chart-area' }),
    svg('path', { d: line, class: 'chart-line' }),
    svg('circle', { cx: x(last.time), cy: y(last.value), r: 3.5, class: 'chart-dot' }),
  );
  attachReadout(root, points, x, y, readout, plotHeight);
  return root;
}

/// At most a minimum and a maximum per pixel column, in time order, plus the last point.
function downsample(points, x, plotWidth) {
  if (points.length <= plotWidth * 2) return points;
  const result = [];
  let column = null;
  let low = null;
  let high = null;
  const flush = () => {
    if (!low) return;
    if (low === high) result.push(low);
    else result.push(...(low.time <= high.time ? [low, high] : [high, low]));
  };
  for (const p of points) {
    const c = Math.floor(x(p.time));
    if (c !== column) {
      flush();
      column = c;
      low = p;
      high = p;
    } else {
      if (p.value < low.value) low = p;
      if (p.value > high.value) high = p;
    }
  }
  flush();
  const last = points[points.length - 1];
  if (result[result.length - 1] !== last) result.push(last);
  return result;
}

/// Shows the balance at the nearest transaction under the pointer.
function attachReadout(root, points, x, y, readout, plotHeight) {
  const marker = svg('circle', { r: 4.5, class: 'chart-marker', visibility: 'hidden' });
  const guide = svg('line', { y1: MARGIN.top, y2: MARGIN.top + plotHeight, class: 'chart-guide', visibility: 'hidden' });
  root.append(guide, marker);
  root.addEventListener('pointermove', (event) => {
    const box = root.getBoundingClientRect();
    const px = event.clientX - box.left;
    let lo = 0;
    let hi = points.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x(points[mid].time) < px) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(x(points[lo - 1].time) - px) < Math.abs(x(points[lo].time) - px)) lo -= 1;
    const p = points[lo];
    for (const [name, value] of [['cx', x(p.time)], ['cy', y(p.value)]]) marker.setAttribute(name, value);
    guide.setAttribute('x1', x(p.time));
    guide.setAttribute('x2', x(p.time));
    marker.setAttribute('visibility', 'visible');
    guide.setAttribute('visibility', 'visible');
    readout.textContent = `${p.at.slice(0, 16).replace('T', ' ')} UTC · balance ${money(p.label)}`;
  });
  root.addEventListener('pointerleave', () => {
    marker.setAttribute('visibility', 'hidden');
    guide.setAttribute('visibility', 'hidden');
  });
}

/// Labels near the right edge end there rather than being cut off.
function anchorFor(position, width) {
  if (position > width - MARGIN.right - 30) return 'end';
  return 'middle';
}

/// 0 and four or five round steps reaching at least `max`.
function niceTicks(max) {
  if (max <= 0) return [0, 1];
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough);
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks.length < 2) ticks.push(step);
  return ticks;
}

/// The time axis between `min` and `max` (ms since the epoch, UTC): about `count` ticks on
/// round instants, each labelled in the unit its instant is round in (d3's multi-scale idea):
/// `2026` on a new year, `Mar` on a new month, `Mar 14` on a new day, `09:30` on a minute,
/// `09:30:15` otherwise. The step (seconds, minutes, hours, days or months) follows the span,
/// and no two labels are the same.
export function timeAxis(min, max, count) {
  let ticks = timeTicks(min, max, count);
  if (ticks.length < 2) ticks = timeTicks(min, max, count * 2);
  const short = ticks.map(formatTime);
  // A short label that repeats (`12:00` on two days, `Jul` in two years) names its day or year.
  const repeated = new Set(short.filter((label, i) => short.indexOf(label) !== i));
  const axis = [];
  const seen = new Set();
  ticks.forEach((time, i) => {
    const label = repeated.has(short[i]) ? formatTimeLong(time) : short[i];
    if (seen.has(label)) return;
    seen.add(label);
    axis.push({ time, label });
  });
  return axis;
}

function timeTicks(min, max, count) {
  const span = max - min;
  const step = TIME_STEPS.find((s) => span / s <= count) || 365 * DAY * Math.ceil(span / (365 * DAY * count));
  const ticks = [];
  if (step >= 30 * DAY) {
    // Whole months (1, 3, 6, 12, ...) start on the first of a month.
    const months = Math.max(1, Math.round(step / (30.4 * DAY)));
    const start = new Date(min);
    let index = start.getUTCFullYear() * 12 + start.getUTCMonth();
    if (monthStart(index) < min) index += 1;
    index = Math.ceil(index / months) * months;
    for (let t = monthStart(index); t <= max; index += months, t = monthStart(index)) ticks.push(t);
  } else {
    for (let t = Math.ceil(min / step) * step; t <= max; t += step) ticks.push(t);
  }
  return ticks;
}

function monthStart(index) {
  return Date.UTC(Math.floor(index / 12), index % 12, 1);
}

function formatValue(value) {
  if (Math.abs(value) >= 10000) return new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 }).format(value);
  return new Intl.NumberFormat('en', { maximumFractionDigits: 2 }).format(value);
}

/// `formatTime` with its context: the day for a time of day, the year for a month.
function formatTimeLong(time) {
  const d = new Date(time);
  const short = formatTime(time);
  if (short.includes(':')) return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()} ${short}`;
  if (MONTHS.includes(short)) return `${short} ${d.getUTCFullYear()}`;
  return `${short} ${d.getUTCFullYear()}`;
}

/// A UTC label in the coarsest unit `time` is round in.
function formatTime(time) {
  const d = new Date(time);
  const pad = (n) => String(n).padStart(2, '0');
  if (d.getUTCSeconds() || d.getUTCMilliseconds()) return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  if (d.getUTCHours() || d.getUTCMinutes()) return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  if (d.getUTCDate() !== 1) return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
  if (d.getUTCMonth() !== 0) return MONTHS[d.getUTCMonth()];
  return String(d.getUTCFullYear());
}
