// An account's transactions: the contract's filters, a page of rows, and the balance chart.
//
// The table shows one page (20 rows, newest first). The chart draws the account's whole history
// in the chosen date range (up to 20,000 transactions, fetched 100 at a time), because a balance
// line needs every point; type and amount filters apply to the table only.

import { ApiError, api, fetchAll } from '../api.js';
import { balanceChart, pointsFrom } from '../chart.js';
import { clearErrors, dateTime, field, h, money, pager, replace, setBusy, showErrors, stackedTable, titleCase } from '../dom.js';

const PAGE_SIZE = 20;
const CHART_POINTS_MAX = 20000;
const FILTERS = ['transaction_type', 'date_from', 'date_to', 'min_amount', 'max_amount'];
const TYPES = [
  ['', 'All types'],
  ['deposit', 'Deposit'],
  ['withdrawal', 'Withdrawal'],
  ['transfer_in', 'Transfer in'],
  ['transfer_out', 'Transfer out'],
];
const CREDITS = new Set(['deposit', 'transfer_in']);

export function transactionsSection(account, context) {
  const state = { page: Number(context.query.get('page')) || 1, filters: {} };
  for (const name of FILTERS) {
    const value = context.query.get(name);
    if (value) state.filters[name] = value;
  }
  const filterForm = filtersForm(state.filters);
  const table = h('div', { class: 'transactions-body' });
  const chart = h('div', { class: 'chart-body' }, h('p', { class: 'muted' }, 'Loading the chart…'));
  const chartTitle = h('h2', { id: 'chart-title' }, 'Balance over time');
  const element = h('div', { class: 'account-history' },
    h('section', { class: 'card', 'aria-labelledby': 'chart-title', id: 'balance-chart' }, chartTitle, chart),
    h('section', { class: 'card', 'aria-labelledby': 'transactions-title', id: 'transactions' },
      h('h2', { id: 'transactions-title' }, 'Transactions'),
      filterForm,
      table));

  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    state.filters = {};
    for (const name of FILTERS) {
      const value = filterForm.elements[name].value.trim();
      if (value) state.filters[name] = value;
    }
    state.page = 1;
    reload();
  });
  filterForm.addEventListener('reset', (event) => {
    event.preventDefault();
    for (const name of FILTERS) filterForm.elements[name].value = '';
    filterForm.requestSubmit();
  });

  let loadCount = 0;
  async function reload() {
    const loadId = (loadCount += 1);
    const search = new URLSearchParams({ account: String(account.id), ...state.filters });
    const visible = new URLSearchParams(state.filters);
    if (state.page > 1) visible.set('page', String(state.page));
    history.replaceState(null, '', `${window.location.pathname}${visible.toString() ? `?${visible}` : ''}`);
    setBusy(filterForm, true);
    clearErrors(filterForm);
    try {
      const pageQuery = new URLSearchParams(search);
      pageQuery.set('page', String(state.page));
      pageQuery.set('page_size', String(PAGE_SIZE));
      const envelope = await api('GET', `/api/transactions/?${pageQuery}`);
      if (loadId !== loadCount || !context.alive()) return;
      renderTable(envelope);
      await loadChart(loadId);
    } catch (error) {
      if (!(error instanceof ApiError) || error.expired) throw error;
      if (error.status === 404 && state.page > 1) {
        state.page = 1;
        return reload();
      }
      showErrors(filterForm, error);
    } finally {
      setBusy(filterForm, false);
    }
  }

  async function loadChart(loadId) {
    const range = {};
    for (const name of ['date_from', 'date_to']) if (state.filters[name]) range[name] = state.filters[name];
    const { count, results } = await fetchAll('/api/transactions/', { account: String(account.id), ...range }, { maxItems: CHART_POINTS_MAX });
    if (loadId !== loadCount || !context.alive()) return;
    const shown = results.length < count ? `The latest ${results.length} of ${count} transactions are drawn.` : '';
    const caption = [range.date_from || range.date_to ? 'Date range from the filters; times in UTC.' : 'Times in UTC.', shown].filter(Boolean).join(' ');
    replace(chart, balanceChart(pointsFrom(results), { caption }));
  }

  function renderTable(envelope) {
    if (!envelope.results.length) {
      replace(table, h('p', { class: 'empty muted' }, Object.keys(state.filters).length ? 'No transactions match these filters.' : 'No transactions yet. Make a deposit to get started.'));
      return;
    }
    const rows = envelope.results.map((t) => {
      const credit = CREDITS.has(t.transaction_type);
      return h('tr', { 'data-transaction-id': t.id, 'data-type': t.transaction_type },
        h('td', { class: 'nowrap' }, timeCell(t.created_at)),
        h('td', {}, titleCase(t.transaction_type)),
        h('td', { class: 'description' }, t.description || h('span', { class: 'muted' }, '—')),
        h('td', { class: 'counterparty nowrap' }, t.counterparty_account_number || h('span', { class: 'muted' }, '—')),
        h('td', { class: `amount ${credit ? 'credit' : 'debit'}` }, `${credit ? '+' : '−'}${money(t.amount)}`),
        h('td', { class: 'amount balance-after' }, money(t.balance_after)));
    });
    replace(table,
      stackedTable('Transactions table',
        h('table', { class: 'table transactions-table' },
          h('caption', { class: 'visually-hidden' }, `Transactions of ${account.account_number}, newest first`),
          h('thead', {}, h('tr', {},
            h('th', { scope: 'col' }, 'Time (UTC)'),
            h('th', { scope: 'col' }, 'Type'),
            h('th', { scope: 'col' }, 'Description'),
            h('th', { scope: 'col' }, 'Counterparty'),
            h('th', { scope: 'col', class: 'amount' }, 'Amount'),
            h('th', { scope: 'col', class: 'amount' }, 'Balance after'))),
          h('tbody', {}, rows))),
      pager(envelope, state.page, PAGE_SIZE, (page) => {
        state.page = page;
        reload();
      }, 'transactions'));
  }

  return { element, reload };
}

/// `2026-11-22 18:23` as a date and a clock, so that narrow screens can stack them.
function timeCell(createdAt) {
  const [date, clock = ''] = dateTime(createdAt).split(' ');
  return h('time', { datetime: createdAt }, h('span', { class: 'date' }, date), ' ', h('span', { class: 'clock' }, clock));
}

function filtersForm(initial) {
  const id = 'filter-form';
  const spec = [
    { name: 'transaction_type', label: 'Type', type: 'select', options: TYPES, value: initial.transaction_type || '' },
    { name: 'date_from', label: 'From (UTC)', type: 'date', value: initial.date_from },
    { name: 'date_to', label: 'To (UTC)', type: 'date', value: initial.date_to },
    { name: 'min_amount', label: 'Min amount', inputmode: 'decimal', value: initial.min_amount, placeholder: '0.00' },
    { name: 'max_amount', label: 'Max amount', inputmode: 'decimal', value: initial.max_amount, placeholder: '0.00' },
  ];
  return h('form', { id, class: 'form filters', novalidate: true, role: 'search', 'aria-label': 'Filter transactions' },
    h('div', { class: 'form-message', role: 'status', 'aria-live': 'polite' }),
    h('div', { class: 'fields' }, spec.map((s) => field(id, { ...s, markOptional: false }))),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'button primary' }, 'Apply filters'),
      h('button', { type: 'reset', class: 'button' }, 'Clear')));
}
