// Staff pages (contract §8), offered only when `GET /api/admin/accounts/` answers 200: every
// customer, account, transaction and audit row, with freeze / unfreeze on accounts.
//
// The admin lists are shown generically (one column per field of the rows), so a field the
// server adds later appears without a console change.

import { api } from '../api.js';
import { actionButton, dateTime, h, pager, replace, statusBadge, titleCase } from '../dom.js';

const SECTIONS = [
  ['accounts', 'Accounts'],
  ['customers', 'Customers'],
  ['transactions', 'Transactions'],
  ['audit', 'Audit log'],
];
const PAGE_SIZE = 25;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

export async function staffPage(container, context) {
  const current = context.params.section || 'accounts';
  if (!SECTIONS.some(([name]) => name === current)) throw new Error('No such staff page.');
  const page = Number(context.query.get('page')) || 1;
  const filter = context.query.get('filter') || '';
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const message = h('div', { class: 'form-message', role: 'status', 'aria-live': 'polite' });
  const filterId = 'staff-filter';
  const filterForm = h('form', { class: 'form form-inline staff-filter', role: 'search', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: filterId }, 'Filter (query string)'),
      h('input', { id: filterId, name: 'filter', value: filter, placeholder: 'e.g. status=frozen', spellcheck: 'false', autocapitalize: 'none' })),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button' }, 'Apply')));
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = filterForm.elements.filter.value.trim();
    context.navigate(`/staff/${current}/${value ? `?filter=${encodeURIComponent(value)}` : ''}`);
  });

  container.append(
    h('div', { class: 'page-header' }, h('div', {}, h('h1', {}, `Staff · ${SECTIONS.find(([n]) => n === current)[1]}`), h('p', { class: 'muted' }, 'Everything in the bank, as staff see it.'))),
    h('nav', { class: 'tabs', 'aria-label': 'Staff sections' }, SECTIONS.map(([name, label]) =>
      h('a', { href: `/staff/${name}/`, 'data-link': true, class: 'tab', 'aria-current': name === current ? 'page' : null }, label))),
    h('section', { class: 'card' }, filterForm, message, body),
  );

  async function load() {
    const search = new URLSearchParams(filter);
    search.set('page', String(page));
    search.set('page_size', String(PAGE_SIZE));
    let envelope;
    try {
      envelope = await api('GET', `/api/admin/${current}/?${search}`);
    } catch (error) {
      if (error.expired || !context.alive()) return;
      const { fields, general } = error.messages();
      message.className = 'form-message error';
      message.textContent = [...general, ...Object.entries(fields).map(([name, list]) => `${name}: ${list.join(' ')}`)].join(' ');
      replace(body);
      return;
    }
    if (!context.alive()) return;
    replace(body, table(envelope.results), pager(envelope, page, PAGE_SIZE, (next) => {
      const query = new URLSearchParams(filter ? { filter } : {});
      query.set('page', String(next));
      context.navigate(`/staff/${current}/?${query}`);
    }, 'rows'));
  }

  function table(rows) {
    if (!rows.length) return h('p', { class: 'muted' }, 'Nothing here.');
    const columns = Object.keys(rows[0]);
    const withActions = current === 'accounts';
    return h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Results' }, h('table', { class: 'table compact' },
      h('thead', {}, h('tr', {}, withActions ? h('th', { scope: 'col' }, 'Actions') : null, columns.map((c) => h('th', { scope: 'col' }, titleCase(c))))),
      h('tbody', {}, rows.map((row) => h('tr', { 'data-id': row.id },
        withActions ? h('td', { class: 'actions' }, freezeButton(row)) : null,
        columns.map((c) => h('td', { class: 'nowrap' }, cell(c, row[c]))))))));
  }

  function cell(column, value) {
    if (value === null || value === undefined || value === '') return h('span', { class: 'muted' }, '—');
    if (column === 'status') return statusBadge(value);
    if (typeof value === 'object') {
      const json = JSON.stringify(value);
      return h('code', { title: json }, json.length > 80 ? `${json.slice(0, 77)}…` : json);
    }
    if (typeof value === 'string' && RFC3339.test(value)) return h('time', { datetime: value, title: value }, dateTime(value));
    return String(value);
  }

  function freezeButton(account) {
    if (account.status === 'closed') return h('span', { class: 'muted' }, '—');
    const action = account.status === 'frozen' ? 'unfreeze' : 'freeze';
    return actionButton(titleCase(action), async () => {
      try {
        await api('POST', `/api/admin/accounts/${account.id}/${action}/`);
        message.className = 'form-message success';
        message.textContent = `${account.account_number || `Account ${account.id}`}: ${action === 'freeze' ? 'frozen' : 'active again'}.`;
        await load();
      } catch (error) {
        if (error.expired) return;
        message.className = 'form-message error';
        message.textContent = error.message;
      }
    }, 'button small');
  }

  await load();
}
