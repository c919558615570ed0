// Small DOM helpers: building elements without innerHTML, labelled form fields, forms that
// disable themselves while in flight and put each API error where it belongs.

import { ApiError } from './api.js';

/// `h('p', {class: 'x', onClick: fn}, 'text', child)`: an element. Text is always text (never
/// parsed as HTML); `null`, `undefined` and `false` children are skipped; arrays are flattened.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === 'class') {
      element.className = value;
    } else if (name === 'value') {
      element.value = value;
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

/// The same for SVG elements.
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/// Replaces every child of `element`.
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

let uniqueCounter = 0;
/// A page-unique id with a readable prefix.
export function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}

/// A labelled input with its hint and its error slot, tied together for screen readers.
/// `spec`: {name, label, type, value, required, options: [[value, label]], hint, ...attributes}.
export function field(formId, spec) {
  const { name, label, type = 'text', value, options, hint, wide, markOptional = true, ...rest } = spec;
  const id = `${formId}-${name}`;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const described = [hintId, errorId].filter(Boolean).join(' ');
  let control;
  if (type === 'select') {
    control = h(
      'select',
      { id, name, 'aria-describedby': described, ...rest },
      options.map(([optionValue, optionLabel]) =>
        h('option', { value: optionValue, selected: optionValue === (value ?? '') }, optionLabel),
      ),
    );
  } else if (type === 'textarea') {
    control = h('textarea', { id, name, 'aria-describedby': described, ...rest });
    control.value = value ?? '';
  } else {
    control = h('input', { id, name, type, 'aria-describedby': described, ...rest });
    if (value !== undefined && value !== null) control.value = value;
  }
  return h(
    'div',
    { class: wide ? 'field field-wide' : 'field', 'data-field': name },
    h('label', { for: id }, label, rest.required || !markOptional ? null : h('span', { class: 'optional' }, ' (optional)')),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errorId }),
  );
}

/// A form with its message area (an aria-live region at the top) and a submit button.
export function form(id, { fields = [], submit, className = '', extra = [] }) {
  return h(
    'form',
    { id, class: `form ${className}`.trim(), novalidate: true },
    h('div', { class: 'form-message', role: 'status', 'aria-live': 'polite' }),
    h('div', { class: 'fields' }, fields.map((spec) => field(id, spec))),
    extra,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button primary' }, submit)),
  );
}

/// The values of a form's named controls, trimmed. Empty optional values are left out when
/// `dropEmpty` is set.
export function values(formElement, { dropEmpty = false } = {}) {
  const result = {};
  for (const [name, value] of new FormData(formElement)) {
    const text = typeof value === 'string' ? value.trim() : value;
    if (dropEmpty && text === '') continue;
    result[name] = text;
  }
  return result;
}

/// Clears the form's message and every field error.
export function clearErrors(formElement) {
  showMessage(formElement, '', '');
  for (const slot of formElement.querySelectorAll('.field-error')) slot.textContent = '';
  for (const control of formElement.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

/// Shows a message at the top of the form ('error', 'success' or '').
export function showMessage(formElement, text, kind = 'error') {
  const slot = formElement.querySelector('.form-message');
  slot.className = `form-message ${kind}`.trim();
  replace(slot, ...(Array.isArray(text) ? text : [text]));
}

/// Puts an `ApiError` where it belongs: each field's messages next to that field, the rest
/// (`non_field_errors`, `detail`, fields the form does not show) at the top of the form.
export function showErrors(formElement, error) {
  const { fields, general } = error.messages();
  const leftover = [...general];
  let firstInvalid = null;
  for (const [name, messages] of Object.entries(fields)) {
    const control = formElement.querySelector(`[name="${CSS.escape(name)}"]`);
    const slot = control && formElement.querySelector(`#${CSS.escape(control.id)}-error`);
    if (!slot) {
      leftover.push(...messages.map((m) => `${name}: ${m}`));
      continue;
    }
    slot.textContent = messages.join(' ');
    control.setAttribute('aria-invalid', 'true');
    firstInvalid = firstInvalid || control;
  }
  if (leftover.length) {
    showMessage(formElement, leftover.length === 1 ? leftover[0] : h('ul', {}, leftover.map((m) => h('li', {}, m))));
  } else {
    showMessage(formElement, 'Please correct the highlighted fields.');
  }
  if (firstInvalid && !leftover.length) firstInvalid.focus();
}

/// Wires a form: on submit, clears old errors, disables its buttons until the request ends,
/// and shows any error where it belongs. `onSubmit(values)` may return a success message.
export function handleSubmit(formElement, onSubmit, { dropEmpty = false } = {}) {
  formElement.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (formElement.getAttribute('aria-busy') === 'true') return;
    setBusy(formElement, true);
    clearErrors(formElement);
    try {
      const success = await onSubmit(values(formElement, { dropEmpty }));
      if (success) showMessage(formElement, success, 'success');
    } catch (error) {
      if (error instanceof ApiError) {
        if (!error.expired) showErrors(formElement, error);
      } else {
        console.error(error);
        showMessage(formElement, 'Something went wrong in the console. Reload the page and try again.');
      }
    } finally {
      setBusy(formElement, false);
    }
  });
}

/// Disables (or re-enables) every button of a form while a request is in flight.
export function setBusy(formElement, busy) {
  formElement.setAttribute('aria-busy', String(busy));
  for (const button of formElement.querySelectorAll('button')) button.disabled = busy;
}

/// A button that runs `action` once at a time, disabled while it runs.
export function actionButton(label, action, className = 'button') {
  const button = h('button', { type: 'button', class: className }, label);
  button.addEventListener('click', async () => {
    if (button.disabled) return;
    button.disabled = true;
    try {
      await action(button);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/// Money as the API sent it (a string with two decimals), with thousands separators:
/// `"-1234567.50"` reads `-1,234,567.50`. The digits are regrouped as text, never parsed to a
/// float, so no amount can be rounded on its way to the screen.
export function money(text) {
  if (text === null || text === undefined) return '—';
  const match = /^([+-]?)(\d+)(\.\d+)?$/.exec(String(text));
  if (!match) return String(text);
  const [, sign, whole, fraction = ''] = match;
  return `${sign}${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${fraction}`;
}

/// Integer cents (from `cents()`) as money text with separators: 123456 -> `1,234.56`.
export function moneyFromCents(cents) {
  const negative = cents < 0;
  const digits = String(Math.abs(cents)).padStart(3, '0');
  return money(`${negative ? '-' : ''}${digits.slice(0, -2)}.${digits.slice(-2)}`);
}

/// A money string (`"1234.50"`) as integer cents, read digit by digit (never through a float).
/// `null` for anything that is not a plain decimal with at most two places.
export function cents(text) {
  const match = /^([+-]?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(text));
  if (!match) return null;
  const value = Number(match[2]) * 100 + Number((match[3] || '').padEnd(2, '0'));
  return match[1] === '-' ? -value : value;
}

/// An RFC 3339 UTC time as `2026-11-21 09:30` (UTC, like the API's date filters).
export function dateTime(text) {
  if (typeof text !== 'string') return '—';
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2})?/.exec(text);
  return match ? `${match[1]} ${match[2]}` : text;
}

export function titleCase(text) {
  return String(text || '').replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase());
}

/// A status pill: active / frozen / closed / cancelled.
export function statusBadge(status) {
  return h('span', { class: `badge badge-${String(status).toLowerCase()}` }, titleCase(status));
}

/// "Previous / Page n of m / Next" for a DRF page envelope; just the count when one page holds
/// everything. `noun` is plural ("transactions").
export function pager(envelope, page, pageSize, onPage, noun = 'items') {
  const counted = `${envelope.count} ${envelope.count === 1 ? noun.replace(/s$/, '') : noun}`;
  if (!envelope.next && !envelope.previous) {
    return h('p', { class: 'pager pager-single muted' }, counted);
  }
  const pages = Math.max(1, Math.ceil(envelope.count / pageSize));
  return h(
    'nav',
    { class: 'pager', 'aria-label': 'Pages' },
    h('button', { type: 'button', class: 'button', disabled: !envelope.previous, onClick: () => onPage(page - 1) }, '← Previous'),
    h('span', { class: 'pager-status' }, `Page ${page} of ${pages} · ${counted}`),
    h('button', { type: 'button', class: 'button', disabled: !envelope.next, onClick: () => onPage(page + 1) }, 'Next →'),
  );
}

/// A card with a heading.
export function section(title, ...children) {
  const headingId = uniqueId('section');
  return h('section', { class: 'card', 'aria-labelledby': headingId }, h('h2', { id: headingId }, title), children);
}

/// A two-step confirmation: the first click shows "Are you sure?" with confirm and cancel.
export function confirmButton(label, question, confirmLabel, action) {
  const wrapper = h('div', { class: 'confirm' });
  const start = h('button', { type: 'button', class: 'button danger-outline' }, label);
  const showStart = () => {
    replace(wrapper, start);
    start.focus();
  };
  start.addEventListener('click', () => {
    const yes = actionButton(confirmLabel, () => action(), 'button danger');
    replace(
      wrapper,
      h('p', { class: 'confirm-question' }, question),
      h('div', { class: 'button-row' }, yes, h('button', { type: 'button', class: 'button', onClick: showStart }, 'Cancel')),
    );
    yes.focus();
  });
  wrapper.append(start);
  return wrapper;
}

/// Today's date in UTC as YYYY-MM-DD.
export function todayUtc() {
  return new Date().toISOString().slice(0, 10);
}

/// A table that reads on a phone: wrapped in a labelled, keyboard-scrollable region, and each
/// cell carries its column's heading (`data-label`), so under 640 px the stylesheet stacks
/// every row into a card of "label: value" lines instead of cutting columns off.
export function stackedTable(label, table) {
  const headings = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
  for (const row of table.querySelectorAll('tbody tr')) {
    [...row.cells].forEach((cell, index) => cell.setAttribute('data-label', headings[index] || ''));
  }
  table.classList.add('table-stack');
  return h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': label }, table);
}

/// A label for an API word: `transfer_out` -> `Transfer out`, `permission_denied` ->
/// `Permission denied`, with the few the plain rule gets wrong spelled out.
export function label(word) {
  const special = { login_failed: 'Failed login', token_issued: 'Token issued', token_revoked: 'Token revoked' };
  return special[word] || titleCase(word);
}
