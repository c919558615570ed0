// The dashboard: the customer's accounts with balance and status, an overview (the total over
// time, money in and out per month), and opening a new account.

import { api } from '../api.js';
import { overviewSection } from './overview.js';
import { form, h, handleSubmit, money, pager, replace, section, statusBadge, titleCase } from '../dom.js';

export const ACCOUNT_TYPES = [
  ['checking', 'Checking'],
  ['savings', 'Savings'],
  ['business', 'Business'],
];

const PAGE_SIZE = 20;

export async function dashboardPage(container, context) {
  const showClosed = context.query.get('status') === 'closed';
  const page = Number(context.query.get('page')) || 1;
  const list = h('div', { class: 'account-list' }, h('p', { class: 'muted' }, 'Loading accounts…'));

  const openForm = form('open-account-form', {
    className: 'form-inline',
    fields: [
      { name: 'account_type', label: 'Account type', type: 'select', options: ACCOUNT_TYPES, required: true },
      { name: 'nickname', label: 'Nickname', maxlength: 100, placeholder: 'e.g. Rainy day' },
    ],
    submit: 'Open account',
  });
  handleSubmit(openForm, async (fields) => {
    const account = await api('POST', '/api/accounts/', { body: fields });
    openForm.reset();
    await load();
    return `Opened ${account.account_number}${account.nickname ? ` (${account.nickname})` : ''}.`;
  });

  const filterLink = showClosed
    ? h('a', { href: '/', 'data-link': true }, 'Show open accounts')
    : h('a', { href: '/?status=closed', 'data-link': true }, 'Show closed accounts');

  container.append(
    h('div', { class: 'page-header' },
      h('div', {}, h('h1', {}, showClosed ? 'Closed accounts' : 'Your accounts'), h('p', { class: 'muted' }, 'Balances are shown exactly as the bank records them.')),
      h('div', { class: 'page-header-actions' }, filterLink)),
    list,
    showClosed ? null : section('Open a new account', openForm),
  );

  async function load(pageNumber = page) {
    const search = new URLSearchParams({ page: String(pageNumber), page_size: String(PAGE_SIZE) });
    if (showClosed) search.set('status', 'closed');
    const envelope = await api('GET', `/api/accounts/?${search}`);
    if (!context.alive()) return;
    renderAccounts(envelope, pageNumber);
  }

  function renderAccounts(envelope, pageNumber) {
    if (!envelope.results.length) {
      replace(list, h('div', { class: 'card empty' },
        h('p', {}, showClosed ? 'You have no closed accounts.' : 'You have no open accounts yet.'),
        showClosed ? null : h('p', { class: 'muted' }, 'Open your first account with the form below.')));
      return;
    }
    const items = envelope.results.map((account) =>
      h('li', { class: 'account-card card' },
        h('a', { class: 'account-link', href: `/accounts/${account.id}/`, 'data-link': true, 'data-account-number': account.account_number },
          h('span', { class: 'account-name' }, account.nickname || `${titleCase(account.account_type)} account`),
          h('span', { class: 'account-number' }, account.account_number)),
        h('div', { class: 'account-meta' },
          h('span', { class: 'account-type' }, titleCase(account.account_type)),
          statusBadge(account.status)),
        h('div', { class: 'account-balance' },
          h('span', { class: 'label' }, 'Balance'),
          h('span', { class: 'amount' }, money(account.balance)))),
    );
    replace(list,
      h('ul', { class: 'accounts', 'aria-label': 'Accounts' }, items),
      envelope.count > PAGE_SIZE
        ? pager(envelope, pageNumber, PAGE_SIZE, (next) => context.navigate(`/?${new URLSearchParams({ ...(showClosed ? { status: 'closed' } : {}), page: String(next) })}`), 'accounts')
        : null);
  }

  await load();
  // The overview follows the accounts: an empty dashboard has nothing to chart.
  if (!showClosed && context.alive() && list.querySelector('.account-card')) {
    list.after(overviewSection(context));
  }
}
