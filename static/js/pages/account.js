// One account: its balance and status, moving money, its transactions and chart, renaming and
// closing it. The transactions and the chart live in `transactions.js`, the money forms in
// `movements.js`.

import { api } from '../api.js';
import { confirmButton, form, h, handleSubmit, money, replace, section, statusBadge, titleCase } from '../dom.js';
import { ACCOUNT_TYPES } from './dashboard.js';
import { movementForms } from './movements.js';
import { transactionsSection } from './transactions.js';

export async function accountPage(container, context) {
  const id = context.params.id;
  if (!/^\d+$/.test(id)) throw new Error('Not a valid account id.');
  const account = await api('GET', `/api/accounts/${id}/`);
  if (!context.alive()) return;
  const others = await api('GET', '/api/accounts/?page_size=100').catch(() => ({ results: [] }));
  if (!context.alive()) return;

  const name = () => account.nickname || `${titleCase(account.account_type)} account`;
  context.setTitle(`${name()} ${account.account_number}`);
  const balance = h('p', { class: 'balance-figure', id: 'account-balance', 'aria-live': 'polite' }, money(account.balance));
  const heading = h('h1', {}, name());
  const badge = h('span', {}, statusBadge(account.status));
  const typeLabel = h('span', {}, titleCase(account.account_type));

  const transactions = transactionsSection(account, context);
  const refresh = (newBalance) => {
    account.balance = newBalance;
    balance.textContent = money(newBalance);
    transactions.reload();
  };

  const movable = account.status === 'active';
  container.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/', 'data-link': true }, '← All accounts')),
    h('div', { class: 'account-header card' },
      h('div', {},
        heading,
        h('p', { class: 'account-facts' },
          h('span', { class: 'account-number', id: 'account-number' }, account.account_number), ' · ', typeLabel, ' · ', badge)),
      h('div', { class: 'balance-box' }, h('span', { class: 'label' }, 'Balance'), balance)),
    movable
      ? movementForms(account, others.results.filter((other) => other.id !== account.id), refresh)
      : h('p', { class: 'notice' }, account.status === 'closed'
        ? 'This account is closed. Its history is kept below.'
        : 'This account is frozen: deposits, withdrawals and transfers are refused until the bank unfreezes it.'),
    transactions.element,
    account.status === 'closed' ? null : settingsSection(account, context, () => {
      heading.textContent = name();
      typeLabel.textContent = titleCase(account.account_type);
      context.setTitle(`${name()} ${account.account_number}`);
    }),
  );
  await transactions.reload();
}

/// Renaming (`PATCH`) and closing (`DELETE`, only when the balance is 0.00).
function settingsSection(account, context, onRenamed) {
  const editForm = form('edit-account-form', {
    className: 'form-inline',
    fields: [
      { name: 'account_type', label: 'Account type', type: 'select', options: ACCOUNT_TYPES, value: account.account_type, required: true },
      { name: 'nickname', label: 'Nickname', maxlength: 100, value: account.nickname || '' },
    ],
    submit: 'Save changes',
  });
  handleSubmit(editForm, async (fields) => {
    const saved = await api('PATCH', `/api/accounts/${account.id}/`, { body: fields });
    Object.assign(account, saved);
    onRenamed();
    return 'Saved.';
  });

  const closeMessage = h('div', { class: 'form-message', role: 'status', 'aria-live': 'polite' });
  const closeArea = h('div', { class: 'close-account', id: 'close-account' },
    h('h3', {}, 'Close this account'),
    h('p', { class: 'muted' }, 'Only an account with a balance of 0.00 can be closed. Its history is kept.'),
    closeMessage,
    confirmButton('Close account…', `Close ${account.account_number}? This cannot be undone.`, 'Yes, close it', async () => {
      try {
        await api('DELETE', `/api/accounts/${account.id}/`);
        context.navigate('/');
      } catch (error) {
        if (error.expired) return;
        closeMessage.className = 'form-message error';
        replace(closeMessage, error.messages().general.join(' ') || error.message);
      }
    }));
  return section('Account settings', editForm, closeArea);
}
