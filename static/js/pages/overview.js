// The dashboard's overview: the total across the customer's accounts now, that total over
// time, and money in and out per month.
//
// Built from two lists the customer may read anyway: the accounts (today's balances) and the
// newest transactions (up to `HISTORY_MAX`). The total over time is walked backwards from
// today's total, undoing one posting at a time, so it is exact for the period shown even when
// older history is left out. All sums are integer cents (`cents()` reads the API's strings
// digit by digit); nothing is added up in floating point.

import { fetchAll } from '../api.js';
import { balanceChart, pointsFrom } from '../chart.js';
import { cents, h, moneyFromCents, replace, stackedTable, svg } from '../dom.js';

const HISTORY_MAX = 5000;
const MONTHS_SHOWN = 12;
const CREDITS = new Set(['deposit', 'transfer_in']);
const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/// The overview card; fills itself in once its data has arrived.
export function overviewSection(context) {
  const body = h('div', { class: 'overview-body' }, h('p', { class: 'muted' }, 'Loading the overview…'));
  const element = h('section', { class: 'card overview', id: 'overview', 'aria-labelledby': 'overview-title' },
    h('h2', { id: 'overview-title' }, 'Overview'), body);
  load(body, context).catch((error) => {
    if (error && error.expired) return;
    if (!context.alive()) return;
    replace(body, h('p', { class: 'form-message error' }, `The overview could not be loaded: ${error.message || error}`));
  });
  return element;
}

async function load(body, context) {
  const [accounts, history] = await Promise.all([
    fetchAll('/api/accounts/', {}),
    fetchAll('/api/transactions/', {}, { maxItems: HISTORY_MAX }),
  ]);
  if (!context.alive()) return;
  const totalNow = accounts.results.reduce((sum, account) => sum + (cents(account.balance) || 0), 0);
  const totals = totalOverTime(history.results, totalNow);
  const months = perMonth(history.results);
  const partial = history.count > history.results.length;
  replace(body,
    h('dl', { class: 'figures overview-figures' },
      h('div', { class: 'figure card' }, h('dt', {}, 'Total balance'), h('dd', { id: 'overview-total' }, moneyFromCents(totalNow))),
      h('div', { class: 'figure card' }, h('dt', {}, 'Open accounts'), h('dd', {}, String(accounts.count))),
      h('div', { class: 'figure card' }, h('dt', {}, 'Transactions'), h('dd', {}, history.count.toLocaleString('en')))),
    h('h3', {}, 'Total balance over time'),
    balanceChart(pointsFrom(totals), {
      title: 'Total balance over time',
      caption: partial ? `The newest ${HISTORY_MAX.toLocaleString('en')} of ${history.count.toLocaleString('en')} transactions.` : '',
    }),
    h('h3', {}, 'Money in and out per month'),
    months.length ? monthChart(months) : h('p', { class: 'muted' }, 'No money has moved yet.'),
    months.length ? monthTable(months) : null,
    months.length ? h('p', { class: 'muted small' }, 'Transfers between your own accounts count as both in and out. Months are UTC.') : null);
}

/// One point per posting: the total of all accounts right after it, newest walked first.
function totalOverTime(transactions, totalNow) {
  const newestFirst = [...transactions].sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : b.id - a.id));
  const points = [];
  let total = totalNow;
  for (const t of newestFirst) {
    points.push({ id: t.id, created_at: t.created_at, balance_after: centsText(total) });
    const amount = cents(t.amount) || 0;
    total -= CREDITS.has(t.transaction_type) ? amount : -amount;
  }
  return points;
}

/// Plain `"1234.50"` text for integer cents (the chart reads it as a number for y only).
function centsText(value) {
  const digits = String(Math.abs(value)).padStart(3, '0');
  return `${value < 0 ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/// `[{month: 'YYYY-MM', in, out}]` for the last `MONTHS_SHOWN` months that saw money move.
function perMonth(transactions) {
  const byMonth = new Map();
  for (const t of transactions) {
    const month = t.created_at.slice(0, 7);
    const entry = byMonth.get(month) || { month, in: 0, out: 0 };
    const amount = cents(t.amount) || 0;
    if (CREDITS.has(t.transaction_type)) entry.in += amount;
    else entry.out += amount;
    byMonth.set(month, entry);
  }
  return [...byMonth.values()].sort((a, b) => (a.month < b.month ? -1 : 1)).slice(-MONTHS_SHOWN);
}

function monthName(month, withYear) {
  const [year, index] = month.split('-');
  return `${MONTH_NAMES[Number(index) - 1]}${withYear ? ` ${year}` : ''}`;
}

/// Paired bars (in, out) per month, on one scale from zero.
function monthChart(months) {
  const width = Math.max(320, months.length * 64 + 80);
  const height = 220;
  const margin = { top: 12, right: 8, bottom: 40, left: 72 };
  const plotHeight = height - margin.top - margin.bottom;
  const top = Math.max(1, ...months.map((m) => Math.max(m.in, m.out)));
  const slot = (width - margin.left - margin.right) / months.length;
  const bar = Math.min(24, slot / 3);
  const y = (value) => margin.top + plotHeight - (value / top) * plotHeight;
  const summary = `Money in and out per month, ${monthName(months[0].month, true)} to ${monthName(months[months.length - 1].month, true)}.`;
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', height, preserveAspectRatio: 'xMinYMid meet', role: 'img', 'aria-label': summary, class: 'chart-svg month-chart' }, svg('title', {}, summary));
  for (const fraction of [0, 0.5, 1]) {
    root.append(
      svg('line', { x1: margin.left, x2: width - margin.right, y1: y(top * fraction), y2: y(top * fraction), class: fraction === 0 ? 'chart-axis' : 'chart-grid' }),
      svg('text', { x: margin.left - 8, y: y(top * fraction), dy: '0.32em', 'text-anchor': 'end', class: 'chart-label' }, axisAmount(Math.round(top * fraction))));
  }
  months.forEach((m, i) => {
    const centre = margin.left + slot * i + slot / 2;
    const newYear = i === 0 || m.month.endsWith('-01');
    root.append(
      svg('rect', { x: centre - bar - 1, y: y(m.in), width: bar, height: Math.max(0, y(0) - y(m.in)), class: 'bar-in' }, svg('title', {}, `${monthName(m.month, true)}: in ${moneyFromCents(m.in)}`)),
      svg('rect', { x: centre + 1, y: y(m.out), width: bar, height: Math.max(0, y(0) - y(m.out)), class: 'bar-out' }, svg('title', {}, `${monthName(m.month, true)}: out ${moneyFromCents(m.out)}`)),
      svg('text', { x: centre, y: height - margin.bottom + 18, 'text-anchor': 'middle', class: 'chart-label' }, monthName(m.month, false)),
      newYear ? svg('text', { x: centre, y: height - margin.bottom + 33, 'text-anchor': 'middle', class: 'chart-label' }, m.month.slice(0, 4)) : null);
  });
  return h('figure', { class: 'chart-figure' },
    h('div', { class: 'month-chart-holder' }, root),
    h('figcaption', { class: 'chart-legend' },
      h('span', { class: 'legend legend-in' }, 'Money in'),
      h('span', { class: 'legend legend-out' }, 'Money out')));
}

/// An axis tick in whole units, compact past ten thousand (`1.2M`); exact amounts are in the
/// bars' titles and the table below.
function axisAmount(centsValue) {
  const units = Math.round(centsValue / 100);
  if (units < 10000) return units.toLocaleString('en');
  return new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 }).format(units);
}

function monthTable(months) {
  return stackedTable('Money in and out per month', h('table', { class: 'table compact month-table' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Month'),
      h('th', { scope: 'col', class: 'amount' }, 'In'),
      h('th', { scope: 'col', class: 'amount' }, 'Out'),
      h('th', { scope: 'col', class: 'amount' }, 'Net'))),
    h('tbody', {}, [...months].reverse().map((m) => h('tr', { 'data-month': m.month },
      h('td', {}, monthName(m.month, true)),
      h('td', { class: 'amount credit' }, moneyFromCents(m.in)),
      h('td', { class: 'amount debit' }, moneyFromCents(m.out)),
      h('td', { class: 'amount' }, `${m.in - m.out < 0 ? '−' : ''}${moneyFromCents(Math.abs(m.in - m.out))}`))))));
}
