// Statements (contract §7), offered once `GET /api/statements/` answers: generate one for an
// account and a date range, list them, view one with its transactions, download its CSV.

import { api, download } from '../api.js';
import { actionButton, dateTime, form, h, handleSubmit, money, pager, section, stackedTable, titleCase, todayUtc } from '../dom.js';

const PAGE_SIZE = 20;

export async function statementsPage(container, context) {
  const page = Number(context.query.get('page')) || 1;
  const [statements, accounts] = await Promise.all([
    api('GET', `/api/statements/?page=${page}&page_size=${PAGE_SIZE}`),
    api('GET', '/api/accounts/?page_size=100'),
  ]);
  if (!context.alive()) return;
  const today = todayUtc();
  const monthStart = `${today.slice(0, 8)}01`;
  const generateForm = form('statement-form', {
    className: 'form-inline',
    fields: [
      { name: 'account', label: 'Account', type: 'select', required: true, options: accounts.results.map((a) => [String(a.id), `${a.account_number}${a.nickname ? ` · ${a.nickname}` : ''}`]) },
      { name: 'start_date', label: 'From (UTC)', type: 'date', required: true, value: monthStart, max: today },
      { name: 'end_date', label: 'To (UTC)', type: 'date', required: true, value: today, max: today },
    ],
    submit: 'Generate statement',
  });
  handleSubmit(generateForm, async ({ account, start_date, end_date }) => {
    const statement = await api('POST', `/api/accounts/${encodeURIComponent(account)}/statements/`, { body: { start_date, end_date } });
    context.navigate(`/statements/${statement.id}/`);
    return null;
  });

  const rows = statements.results.map((s) => h('tr', {},
    h('td', { class: 'nowrap' }, h('a', { href: `/statements/${s.id}/`, 'data-link': true }, `${s.start_date} – ${s.end_date}`)),
    h('td', { class: 'nowrap' }, s.account_number),
    h('td', { class: 'amount' }, money(s.opening_balance)),
    h('td', { class: 'amount' }, money(s.closing_balance)),
    h('td', { class: 'amount' }, String(s.transaction_count)),
    h('td', { class: 'nowrap' }, dateTime(s.generated_at))));
  container.append(
    h('div', { class: 'page-header' }, h('div', {}, h('h1', {}, 'Statements'), h('p', { class: 'muted' }, 'Statements are stored: generate once, view or download any time.'))),
    accounts.results.length ? section('Generate a statement', generateForm) : null,
    section('Your statements', rows.length
      ? [stackedTable('Your statements', h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Period', 'Account', 'Opening', 'Closing', 'Transactions', 'Generated (UTC)'].map((t, i) => h('th', { scope: 'col', class: i >= 2 && i <= 4 ? 'amount' : null }, t)))),
        h('tbody', {}, rows))),
      pager(statements, page, PAGE_SIZE, (next) => context.navigate(`/statements/?page=${next}`), 'statements')]
      : h('p', { class: 'muted' }, 'No statements yet.')),
  );
}

export async function statementPage(container, context) {
  const id = context.params.id;
  // The detail pages its transactions (DRF envelope); the console shows the first 100 and
  // points to the CSV, which always has all of them.
  const statement = await api('GET', `/api/statements/${encodeURIComponent(id)}/?page_size=100`);
  const rows = (statement.transactions && statement.transactions.results) || [];
  if (!context.alive()) return;
  context.setTitle(`Statement ${statement.start_date} – ${statement.end_date}`);
  const message = h('div', { class: 'form-message', role: 'status', 'aria-live': 'polite' });
  const csv = actionButton('Download CSV', async () => {
    try {
      const file = await download(`/api/statements/${encodeURIComponent(id)}/?format=csv`);
      const url = URL.createObjectURL(file.blob);
      const link = h('a', { href: url, download: file.filename });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (error) {
      if (error.expired) return;
      message.className = 'form-message error';
      message.textContent = error.message;
    }
  }, 'button primary');
  const figures = [
    ['Opening balance', statement.opening_balance],
    ['Deposits and transfers in', statement.total_deposits],
    ['Withdrawals and transfers out', statement.total_withdrawals],
    ['Closing balance', statement.closing_balance],
  ];
  container.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/statements/', 'data-link': true }, '← All statements')),
    h('div', { class: 'page-header' },
      h('div', {}, h('h1', {}, `Statement ${statement.start_date} – ${statement.end_date}`), h('p', { class: 'muted' }, `${statement.account_number} · generated ${dateTime(statement.generated_at)} UTC`)),
      h('div', { class: 'page-header-actions' }, csv)),
    message,
    h('dl', { class: 'figures' }, figures.map(([label, value]) => h('div', { class: 'figure card' }, h('dt', {}, label), h('dd', {}, money(value))))),
    section(`Transactions (${statement.transaction_count})`, rows.length
      ? h('div', {},
        rows.length < statement.transaction_count
          ? h('p', { class: 'muted' }, `The first ${rows.length}; download the CSV for all ${statement.transaction_count}.`)
          : null,
        stackedTable('Statement transactions', h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, ['Time (UTC)', 'Type', 'Description', 'Counterparty', 'Amount', 'Balance after'].map((t, i) => h('th', { scope: 'col', class: i >= 4 ? 'amount' : null }, t)))),
        h('tbody', {}, rows.map((t) => h('tr', {},
          h('td', { class: 'nowrap' }, dateTime(t.created_at)),
          h('td', {}, titleCase(t.transaction_type)),
          h('td', {}, t.description || h('span', { class: 'muted' }, '—')),
          h('td', { class: 'nowrap' }, t.counterparty_account_number || h('span', { class: 'muted' }, '—')),
          h('td', { class: 'amount' }, money(t.amount)),
          h('td', { class: 'amount' }, money(t.balance_after))))))))
      : h('p', { class: 'muted' }, 'No transactions in this period.')),
  );
}
