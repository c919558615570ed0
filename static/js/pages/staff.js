// Staff pages (contract §8), offered only to staff (`GET /api/me/` says `is_staff`): every
// customer, account, transaction and audit row, as a person reads them — usernames rather
// than ids, labelled types and statuses, money with separators — with real filter fields and
// freeze / unfreeze behind a confirmation.
//
// Each section is one entry in `SECTIONS`: its API list, its filter fields (each the name of
// the API's query parameter) and its columns. The filters live in the page's URL, so a
// filtered list can be bookmarked and the browser's back button undoes a filter.

import { api } from '../api.js';
import { confirmButton, dateTime, field, h, label, money, pager, replace, stackedTable, statusBadge } from '../dom.js';

const PAGE_SIZE = 25;
const CREDITS = new Set(['deposit', 'transfer_in']);
const TYPE_OPTIONS = [['', 'Any type'], ['deposit', 'Deposit'], ['withdrawal', 'Withdrawal'], ['transfer_in', 'Transfer in'], ['transfer_out', 'Transfer out']];
const STATUS_OPTIONS = [['', 'Any status'], ['active', 'Active'], ['frozen', 'Frozen'], ['closed', 'Closed']];
// The audited actions (docs/API.md, "The audit log").
const ACTIONS = ['register', 'login', 'login_failed', 'token_issued', 'token_revoked', 'permission_denied', 'deposit', 'withdrawal', 'transfer', 'card_issued', 'card_updated', 'card_cancelled', 'account_frozen', 'account_unfrozen'];
const ACTION_OPTIONS = [['', 'Any action'], ...ACTIONS.map((a) => [a, label(a)])];

const USER = { name: 'username', label: 'User', placeholder: 'username', autocapitalize: 'none', spellcheck: 'false' };
const ACCOUNT = { name: 'account_number', label: 'Account', placeholder: 'ACC-…', autocapitalize: 'characters', spellcheck: 'false' };
const DATES = [{ name: 'date_from', label: 'From (UTC)', type: 'date' }, { name: 'date_to', label: 'To (UTC)', type: 'date' }];

const SECTIONS = {
  accounts: {
    title: 'Accounts',
    filters: [USER, ACCOUNT, { name: 'status', label: 'Status', type: 'select', options: STATUS_OPTIONS }],
    columns: [
      ['Account', (a) => accountLink(a.account_number)],
      ['Owner', (a) => userLink('accounts', a.username)],
      ['Type', (a) => label(a.account_type)],
      ['Nickname', (a) => a.nickname || h('span', { class: 'muted' }, '—')],
      ['Balance', (a) => money(a.balance), 'amount'],
      ['Status', (a) => statusBadge(a.status)],
      ['Opened', (a) => time(a.created_at)],
    ],
  },
  customers: {
    title: 'Customers',
    filters: [USER],
    columns: [
      ['Username', (c) => userLink('accounts', c.username)],
      ['Full name', (c) => c.full_name],
      ['Email', (c) => c.email],
      ['Phone', (c) => c.phone_number || h('span', { class: 'muted' }, '—')],
      ['Joined', (c) => time(c.created_at)],
    ],
  },
  transactions: {
    title: 'Transactions',
    filters: [USER, ACCOUNT, { name: 'transaction_type', label: 'Type', type: 'select', options: TYPE_OPTIONS }, ...DATES],
    columns: [
      ['Time (UTC)', (t) => time(t.created_at)],
      ['Account', (t) => accountLink(t.account_number)],
      ['Owner', (t) => userLink('transactions', t.username)],
      ['Type', (t) => label(t.transaction_type)],
      ['Amount', (t) => `${CREDITS.has(t.transaction_type) ? '+' : '−'}${money(t.amount)}`, 'amount'],
      ['Balance after', (t) => money(t.balance_after), 'amount'],
      ['Counterparty', (t) => t.counterparty_account_number || h('span', { class: 'muted' }, '—')],
      ['Description', (t) => t.description || h('span', { class: 'muted' }, '—')],
    ],
  },
  audit: {
    title: 'Audit log',
    filters: [USER, ACCOUNT, { name: 'action', label: 'Action', type: 'select', options: ACTION_OPTIONS }, ...DATES],
    columns: [
      ['Time (UTC)', (r) => time(r.created_at)],
      ['User', (r) => (r.actor_username ? userLink('audit', r.actor_username) : h('span', { class: 'muted' }, 'anonymous'))],
      ['Action', (r) => label(r.action)],
      ['Outcome', (r) => h('span', { class: `badge badge-${r.outcome}` }, label(r.outcome))],
      ['Object', (r) => (r.object_type ? `${label(r.object_type)} ${r.details && r.details.account_number ? r.details.account_number : `#${r.object_id}`}` : h('span', { class: 'muted' }, '—'))],
      ['Client IP', (r) => r.client_ip],
      ['Details', (r) => details(r.details)],
    ],
  },
};

/// A username that lists what else that user has or did in `section`.
function userLink(section, username) {
  return h('a', { href: `/staff/${section}/?${new URLSearchParams({ username })}`, 'data-link': true }, username);
}

/// An account number that lists the account's transactions.
function accountLink(number) {
  return h('a', { class: 'mono', href: `/staff/transactions/?${new URLSearchParams({ account_number: number })}`, 'data-link': true, title: 'Its transactions' }, number);
}

function time(text) {
  return h('time', { datetime: text, title: text }, dateTime(text));
}

/// The details object as short "key: value" lines (never more than 80 characters each).
function details(value) {
  if (!value || typeof value !== 'object' || !Object.keys(value).length) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'details' }, Object.entries(value).map(([key, item]) => {
    const text = typeof item === 'object' ? JSON.stringify(item) : String(item);
    return h('span', { class: 'detail' }, `${label(key)}: ${text.length > 80 ? `${text.slice(0, 77)}…` : text}`);
  }));
}

export async function staffPage(container, context) {
  const current = context.params.section || 'accounts';
  const spec = SECTIONS[current];
  if (!spec) throw new Error('No such staff page.');
  context.setTitle(`Staff · ${spec.title}`);
  const page = Number(context.query.get('page')) || 1;
  const applied = {};
  for (const filter of spec.filters) {
    const value = (context.query.get(filter.name) || '').trim();
    if (value) applied[filter.name] = value;
  }
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const message = h('div', { class: 'form-message', role: 'status', 'aria-live': 'polite' });
  const filterForm = h('form', { id: 'staff-filter', class: 'form form-inline filters staff-filter', role: 'search', novalidate: true },
    h('div', { class: 'fields' }, spec.filters.map((f) => field('staff-filter', { ...f, value: applied[f.name] || '', markOptional: false }))),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'button primary' }, 'Filter'),
      Object.keys(applied).length ? h('a', { class: 'button', href: `/staff/${current}/`, 'data-link': true }, 'Clear') : null));
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const search = new URLSearchParams();
    for (const filter of spec.filters) {
      const value = filterForm.elements[filter.name].value.trim();
      if (value) search.set(filter.name, value);
    }
    context.navigate(`/staff/${current}/${search.toString() ? `?${search}` : ''}`);
  });

  container.append(
    h('div', { class: 'page-header' }, h('div', {}, h('h1', {}, `Staff · ${spec.title}`), h('p', { class: 'muted' }, 'Everything in the bank, as staff see it. Times are UTC.'))),
    h('nav', { class: 'tabs', 'aria-label': 'Staff sections' }, Object.entries(SECTIONS).map(([name, section]) =>
      h('a', { href: `/staff/${name}/`, 'data-link': true, class: 'tab', 'aria-current': name === current ? 'page' : null }, section.title))),
    h('section', { class: 'card' }, filterForm, message, body),
  );

  async function load() {
    const search = new URLSearchParams(applied);
    search.set('page', String(page));
    search.set('page_size', String(PAGE_SIZE));
    let envelope;
    try {
      envelope = await api('GET', `/api/admin/${current}/?${search}`);
    } catch (error) {
      if (error.expired || !context.alive()) return;
      const { fields, general } = error.messages();
      message.className = 'form-message error';
      message.textContent = [...general, ...Object.entries(fields).map(([name, list]) => `${label(name)}: ${list.join(' ')}`)].join(' ');
      replace(body);
      return;
    }
    if (!context.alive()) return;
    replace(body, table(envelope.results), pager(envelope, page, PAGE_SIZE, (next) => {
      const query = new URLSearchParams(applied);
      query.set('page', String(next));
      context.navigate(`/staff/${current}/?${query}`);
    }, 'rows'));
  }

  function table(rows) {
    if (!rows.length) return h('p', { class: 'muted' }, Object.keys(applied).length ? 'Nothing matches these filters.' : 'Nothing here yet.');
    const withActions = current === 'accounts';
    return stackedTable(`${spec.title} (staff)`, h('table', { class: 'table compact' },
      h('thead', {}, h('tr', {},
        spec.columns.map(([heading, , className]) => h('th', { scope: 'col', class: className || null }, heading)),
        withActions ? h('th', { scope: 'col' }, 'Actions') : null)),
      h('tbody', {}, rows.map((row) => h('tr', { 'data-id': row.id },
        spec.columns.map(([, render, className]) => h('td', { class: className || null }, render(row))),
        withActions ? h('td', { class: 'actions' }, freezeButton(row)) : null)))));
  }

  function freezeButton(account) {
    if (account.status === 'closed') return h('span', { class: 'muted' }, '—');
    const action = account.status === 'frozen' ? 'unfreeze' : 'freeze';
    const question = action === 'freeze'
      ? `Freeze ${account.account_number} (${account.username})? Every deposit, withdrawal and transfer will be refused until it is unfrozen.`
      : `Unfreeze ${account.account_number} (${account.username})? Money can move again.`;
    return confirmButton(label(action), question, `Yes, ${action}`, async () => {
      try {
        await api('POST', `/api/admin/accounts/${account.id}/${action}/`);
        message.className = 'form-message success';
        message.textContent = `${account.account_number}: ${action === 'freeze' ? 'frozen' : 'active again'}.`;
        await load();
      } catch (error) {
        if (error.expired) return;
        message.className = 'form-message error';
        message.textContent = error.message;
      }
    });
  }

  await load();
}
