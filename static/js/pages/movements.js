// Deposit, withdraw and transfer forms.
//
// Each form carries an `Idempotency-Key`, a random UUID drawn when the form is shown and again
// after every definitive answer. A double click or a retry after a network failure therefore
// repeats the same key, and the server (once it honours the header) moves the money once.

import { api, newIdempotencyKey } from '../api.js';
import { form, h, handleSubmit, money } from '../dom.js';

const KINDS = {
  deposit: { title: 'Deposit', submit: 'Deposit', done: (r) => `Deposit successful. New balance: ${money(r.new_balance)}.`, balance: (r) => r.new_balance },
  withdraw: { title: 'Withdraw', submit: 'Withdraw', done: (r) => `Withdrawal successful. New balance: ${money(r.new_balance)}.`, balance: (r) => r.new_balance },
  transfer: { title: 'Transfer', submit: 'Transfer', done: (r) => `Transfer successful. New balance: ${money(r.from_account_balance)}.`, balance: (r) => r.from_account_balance },
};

/// The three forms side by side; `onMoved(newBalance)` runs after each success.
export function movementForms(account, ownOtherAccounts, onMoved) {
  return h('section', { class: 'movements', 'aria-label': 'Move money' },
    Object.keys(KINDS).map((kind) => movementCard(kind, account, ownOtherAccounts, onMoved)));
}

function movementCard(kind, account, ownOtherAccounts, onMoved) {
  const spec = KINDS[kind];
  const formId = `${kind}-form`;
  const fields = [
    { name: 'amount', label: 'Amount', required: true, inputmode: 'decimal', autocomplete: 'off', placeholder: '0.00', pattern: '[0-9]+([.][0-9]{1,2})?' },
    { name: 'description', label: 'Description', maxlength: 255, autocomplete: 'off' },
  ];
  let datalist = null;
  if (kind === 'transfer') {
    const listId = `${formId}-destinations`;
    fields.unshift({ name: 'to_account_number', label: 'To account number', required: true, list: listId, autocomplete: 'off', autocapitalize: 'characters', placeholder: 'ACC-123456789', hint: 'Any customer’s account; your own are suggested.' });
    datalist = h('datalist', { id: listId },
      ownOtherAccounts.map((other) => h('option', { value: other.account_number }, other.nickname || titleOf(other))));
  }
  const movement = form(formId, { fields, submit: spec.submit, className: 'movement-form', extra: datalist });
  let idempotencyKey = newIdempotencyKey();
  movement.dataset.idempotencyKey = idempotencyKey;
  const freshKey = () => {
    idempotencyKey = newIdempotencyKey();
    movement.dataset.idempotencyKey = idempotencyKey;
  };

  handleSubmit(
    movement,
    async (body) => {
      let result;
      try {
        result = await api('POST', `/api/accounts/${account.id}/${kind}/`, { body, headers: { 'Idempotency-Key': idempotencyKey } });
      } catch (error) {
        // A definitive refusal gets a new key for the next (different) attempt; an unknown
        // outcome (network failure, 409 in progress, 429, 5xx) keeps it so a retry is safe.
        if (error.status >= 400 && error.status < 500 && ![409, 429].includes(error.status)) freshKey();
        throw error;
      }
      freshKey();
      movement.reset();
      onMoved(spec.balance(result));
      return spec.done(result);
    },
    { dropEmpty: true },
  );
  return h('div', { class: `card movement movement-${kind}` }, h('h2', {}, spec.title), movement);
}

function titleOf(account) {
  return `${account.account_type} account`;
}
