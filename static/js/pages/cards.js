// Cards (contract §6), offered once `GET /api/cards/` answers: issue a card (its full number
// and CVV are shown once, with a warning), freeze, unfreeze and cancel.

import { api } from '../api.js';
import { actionButton, confirmButton, form, h, handleSubmit, money, replace, section, stackedTable, statusBadge, titleCase } from '../dom.js';

export async function cardsPage(container, context) {
  const [cards, accounts] = await Promise.all([
    api('GET', '/api/cards/?page_size=100'),
    api('GET', '/api/accounts/?page_size=100'),
  ]);
  if (!context.alive()) return;
  const numberOf = new Map(accounts.results.map((a) => [a.id, a.account_number]));
  const list = h('div', {});
  const secret = h('div', { class: 'card-secret-slot' });

  const issueForm = form('issue-card-form', {
    className: 'form-inline',
    fields: [
      { name: 'account', label: 'Account', type: 'select', required: true, options: accounts.results.map((a) => [String(a.id), `${a.account_number}${a.nickname ? ` · ${a.nickname}` : ''}`]) },
      { name: 'card_type', label: 'Card type', type: 'select', required: true, options: [['debit', 'Debit'], ['credit', 'Credit']] },
      { name: 'credit_limit', label: 'Credit limit', inputmode: 'decimal', placeholder: '0.00', hint: 'Credit cards only.' },
    ],
    submit: 'Issue card',
  });
  handleSubmit(issueForm, async (fields) => {
    const body = { account: Number(fields.account), card_type: fields.card_type };
    if (fields.credit_limit) body.credit_limit = fields.credit_limit;
    const card = await api('POST', '/api/cards/', { body });
    showSecret(secret, card);
    issueForm.reset();
    await reload();
    return null;
  });

  async function reload() {
    const fresh = await api('GET', '/api/cards/?page_size=100');
    if (context.alive()) renderCards(fresh.results);
  }

  function renderCards(results) {
    if (!results.length) {
      replace(list, h('p', { class: 'muted' }, 'You have no cards yet.'));
      return;
    }
    replace(list, stackedTable('Your cards', h('table', { class: 'table' },
      h('thead', {}, h('tr', {}, ['Card', 'Type', 'Account', 'Expires', 'Credit limit', 'Status', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, results.map((card) => h('tr', { 'data-card-id': card.id },
        h('td', { class: 'nowrap mono' }, card.masked_number),
        h('td', {}, titleCase(card.card_type)),
        h('td', { class: 'nowrap' }, numberOf.get(card.account) || `#${card.account}`),
        h('td', {}, `${String(card.expiry_month).padStart(2, '0')}/${card.expiry_year}`),
        h('td', { class: 'amount' }, card.credit_limit === null ? '—' : money(card.credit_limit)),
        h('td', {}, statusBadge(card.status)),
        h('td', { class: 'actions' }, cardActions(card))))))));
  }

  function cardActions(card) {
    if (card.status === 'cancelled') return h('span', { class: 'muted' }, '—');
    const toggle = card.status === 'frozen' ? ['Unfreeze', 'active'] : ['Freeze', 'frozen'];
    return h('div', { class: 'button-row' },
      actionButton(toggle[0], async () => {
        await api('PATCH', `/api/cards/${card.id}/`, { body: { status: toggle[1] } }).catch(report);
        await reload();
      }, 'button small'),
      confirmButton('Cancel…', `Cancel ${card.masked_number}? A cancelled card cannot be reactivated.`, 'Yes, cancel it', async () => {
        await api('DELETE', `/api/cards/${card.id}/`).catch(report);
        await reload();
      }));
  }

  function report(error) {
    if (error.expired) throw error;
    replace(list.parentElement.querySelector('.list-message'), error.message);
  }

  container.append(
    h('div', { class: 'page-header' }, h('div', {}, h('h1', {}, 'Cards'), h('p', { class: 'muted' }, 'Full card numbers and CVVs are never stored in clear: you see them once, when the card is issued.'))),
    secret,
    section('Your cards', h('div', { class: 'form-message error list-message', role: 'status', 'aria-live': 'polite' }), list),
    accounts.results.length ? section('Issue a card', issueForm) : section('Issue a card', h('p', { class: 'muted' }, 'Open an account first.')),
  );
  renderCards(cards.results);
}

function showSecret(slot, card) {
  const dismiss = h('button', { type: 'button', class: 'button', onClick: () => replace(slot) }, 'I have saved them — hide');
  replace(slot, h('section', { class: 'card card-secret', role: 'alert' },
    h('h2', {}, 'Your new card'),
    h('p', { class: 'warning' }, 'Write these down now. The full number and the CVV are shown only this once and cannot be recovered.'),
    h('dl', { class: 'secret-values' },
      h('dt', {}, 'Card number'), h('dd', { class: 'mono', id: 'new-card-number' }, String(card.card_number || '').replace(/(\d{4})(?=\d)/g, '$1 ')),
      h('dt', {}, 'CVV'), h('dd', { class: 'mono', id: 'new-card-cvv' }, card.cvv || ''),
      h('dt', {}, 'Expires'), h('dd', {}, `${String(card.expiry_month).padStart(2, '0')}/${card.expiry_year}`)),
    dismiss));
  dismiss.focus();
}
