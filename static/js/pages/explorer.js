// The API explorer, the browsable API's place: every route, and a form that sends any request
// as the logged-in user and shows the status, headers and body that came back.
//
// Routes come from `GET /api/schema/` (OpenAPI `paths`) when the server has it, else from the
// built-in list below, which follows API-CONTRACT.md.

import { ApiError, newIdempotencyKey, send, session } from '../api.js';
import { field, h, replace, setBusy } from '../dom.js';

const BUILT_IN_ROUTES = [
  ['POST', '/api/register/', 'Create a login and customer profile', { username: '', password: '', full_name: '', email: '' }],
  ['POST', '/api/get-token/', 'Trade credentials for a token', { username: '', password: '' }],
  ['POST', '/api/logout/', 'Revoke the token you send'],
  ['POST', '/api/token/', 'JWT access and refresh pair', { username: '', password: '' }],
  ['POST', '/api/token/refresh/', 'A new JWT access token', { refresh: '' }],
  ['GET', '/api/customers/', 'Your customer profile (a list of 0 or 1)'],
  ['POST', '/api/customers/', 'Create your customer profile', { full_name: '', email: '' }],
  ['GET', '/api/customers/{id}/', 'One profile'],
  ['PATCH', '/api/customers/{id}/', 'Change some profile fields', { phone_number: '' }],
  ['PUT', '/api/customers/{id}/', 'Replace the profile', { full_name: '', email: '', phone_number: null, date_of_birth: null, gender: null }],
  ['DELETE', '/api/customers/{id}/', 'Delete the profile'],
  ['GET', '/api/accounts/', 'Your open accounts (?status=closed for closed ones)'],
  ['POST', '/api/accounts/', 'Open an account', { account_type: 'checking', nickname: '' }],
  ['GET', '/api/accounts/{id}/', 'One account'],
  ['PATCH', '/api/accounts/{id}/', 'Rename or retype an account', { nickname: '' }],
  ['PUT', '/api/accounts/{id}/', 'Replace type and nickname', { account_type: 'checking', nickname: '' }],
  ['DELETE', '/api/accounts/{id}/', 'Close an account (balance must be 0.00)'],
  ['POST', '/api/accounts/{id}/deposit/', 'Deposit money', { amount: '10.00', description: '' }],
  ['POST', '/api/accounts/{id}/withdraw/', 'Withdraw money', { amount: '10.00', description: '' }],
  ['POST', '/api/accounts/{id}/transfer/', 'Transfer to any account', { to_account_number: 'ACC-', amount: '10.00', description: '' }],
  ['GET', '/api/transactions/', 'Your transactions: ?account= &transaction_type= &date_from= &date_to= &min_amount= &max_amount='],
  ['GET', '/api/transactions/{id}/', 'One transaction'],
  ['GET', '/healthz', 'Liveness'],
  ['GET', '/readyz', 'Readiness'],
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const MONEY_PATH = /\/(deposit|withdraw|transfer)\/?$/;

/// The routes as [method, path, summary, example body], from the schema when it exists.
async function loadRoutes() {
  try {
    const answer = await send('GET', '/api/schema/', { headers: { Accept: 'application/json' }, expire: false });
    if (answer.status === 200 && answer.body && typeof answer.body === 'object' && answer.body.paths) {
      const routes = [];
      for (const [path, operations] of Object.entries(answer.body.paths)) {
        for (const [method, operation] of Object.entries(operations || {})) {
          if (!METHODS.includes(method.toUpperCase()) || !operation) continue;
          const idempotent = (operation.parameters || []).some((p) => p && p.in === 'header' && p.name === 'Idempotency-Key');
          routes.push([method.toUpperCase(), path, operation.summary || operation.operationId || '', exampleBody(answer.body, operation), idempotent]);
        }
      }
      if (routes.length) return { routes, source: 'from /api/schema/' };
    }
  } catch {
    // Fall back to the built-in list.
  }
  return { routes: BUILT_IN_ROUTES, source: 'built-in list' };
}

/// An example body for an operation: its JSON schema's writable properties with their
/// example, first choice, or an empty value.
function exampleBody(document, operation) {
  const content = operation.requestBody && operation.requestBody.content;
  let schema = content && content['application/json'] && content['application/json'].schema;
  for (let depth = 0; schema && schema.$ref && depth < 5; depth += 1) {
    const name = schema.$ref.replace('#/components/schemas/', '');
    schema = document.components && document.components.schemas && document.components.schemas[name];
  }
  if (!schema || !schema.properties) return undefined;
  const example = {};
  for (const [name, property] of Object.entries(schema.properties)) {
    if (!property || property.readOnly) continue;
    if (property.example !== undefined) example[name] = property.example;
    else if (Array.isArray(property.enum) && property.enum.length) example[name] = property.enum.find((v) => v !== null) ?? null;
    else example[name] = '';
  }
  return example;
}

export async function explorerPage(container, context) {
  const { routes, source } = await loadRoutes();
  if (!context.alive()) return;
  const requestForm = buildForm();
  const result = h('div', { class: 'explorer-result', id: 'explorer-result' }, h('p', { class: 'muted' }, 'Choose a route or type a path, then send.'));
  const routeList = h('ul', { class: 'route-list' }, routes.map(([method, path, summary, example, idempotent]) =>
    h('li', {}, h('button', {
      type: 'button',
      class: 'route',
      onClick: () => choose(requestForm, method, path, example, idempotent ?? (method === 'POST' && MONEY_PATH.test(path))),
    }, h('span', { class: `method method-${method.toLowerCase()}` }, method), h('code', {}, path), summary ? h('span', { class: 'route-summary' }, summary) : null))));

  requestForm.addEventListener('submit', (event) => {
    event.preventDefault();
    sendFrom(requestForm, result);
  });

  container.append(
    h('div', { class: 'page-header' }, h('div', {}, h('h1', {}, 'API explorer'), h('p', { class: 'muted' }, session.token ? `Requests are sent as ${session.username}, with your token.` : 'You are not logged in: requests are sent without a token.'))),
    h('div', { class: 'explorer' },
      h('section', { class: 'card routes', 'aria-labelledby': 'routes-title' }, h('h2', { id: 'routes-title' }, 'Routes'), h('p', { class: 'muted small' }, `${routes.length} routes, ${source}.`), routeList),
      h('div', { class: 'explorer-main' },
        h('section', { class: 'card', 'aria-labelledby': 'request-title' }, h('h2', { id: 'request-title' }, 'Request'), requestForm),
        h('section', { class: 'card', 'aria-labelledby': 'response-title' }, h('h2', { id: 'response-title' }, 'Response'), result))),
  );
}

function buildForm() {
  const id = 'explorer-form';
  return h('form', { id, class: 'form', novalidate: true },
    h('div', { class: 'form-message', role: 'status', 'aria-live': 'polite' }),
    h('div', { class: 'request-line' },
      field(id, { name: 'method', label: 'Method', type: 'select', options: METHODS.map((m) => [m, m]), markOptional: false }),
      field(id, { name: 'path', label: 'Path and query', value: '/api/accounts/', required: true, spellcheck: 'false', autocapitalize: 'none' })),
    field(id, { name: 'body', label: 'JSON body', type: 'textarea', rows: 7, spellcheck: 'false', hint: 'Sent for POST, PUT and PATCH.', class: 'code-input' }),
    field(id, { name: 'idempotency_key', label: 'Idempotency-Key', hint: 'Filled in for deposits, withdrawals and transfers. Send again with the same key to see the replay; choose the route again for a new key.', spellcheck: 'false' }),
    h('div', { class: 'checkbox' },
      h('input', { type: 'checkbox', id: `${id}-auth`, name: 'auth', checked: Boolean(session.token), disabled: !session.token }),
      h('label', { for: `${id}-auth` }, 'Send my token (Authorization: Token …)')),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Send request')));
}

function choose(requestForm, method, path, example, idempotent) {
  requestForm.elements.method.value = method;
  requestForm.elements.path.value = path;
  requestForm.elements.body.value = example && ['POST', 'PUT', 'PATCH'].includes(method) ? JSON.stringify(example, null, 2) : '';
  requestForm.elements.idempotency_key.value = idempotent ? newIdempotencyKey() : '';
  const target = path.includes('{') ? requestForm.elements.path : requestForm.querySelector('button[type=submit]');
  target.focus();
  if (target === requestForm.elements.path) {
    const start = path.indexOf('{');
    target.setSelectionRange(start, path.indexOf('}') + 1);
  }
}

async function sendFrom(requestForm, result) {
  const elements = requestForm.elements;
  const method = elements.method.value;
  const path = elements.path.value.trim();
  const message = requestForm.querySelector('.form-message');
  message.className = 'form-message';
  message.textContent = '';
  if (!path.startsWith('/') || path.startsWith('//')) {
    message.className = 'form-message error';
    message.textContent = 'The path must start with / (requests go to this server only).';
    return;
  }
  const headers = {};
  const key = elements.idempotency_key.value.trim();
  if (key) headers['Idempotency-Key'] = key;
  const withBody = ['POST', 'PUT', 'PATCH'].includes(method) && elements.body.value.trim() !== '';
  setBusy(requestForm, true);
  const started = performance.now();
  try {
    const answer = await send(method, path, { body: withBody ? elements.body.value : undefined, headers, auth: elements.auth.checked });
    showAnswer(result, method, path, answer, Math.round(performance.now() - started));
  } catch (error) {
    if (error instanceof ApiError && error.expired) return;
    message.className = 'form-message error';
    message.textContent = error.message;
  } finally {
    setBusy(requestForm, false);
  }
}

function showAnswer(result, method, path, answer, millis) {
  const headerLines = [];
  answer.headers.forEach((value, name) => headerLines.push(`${name}: ${value}`));
  let body = answer.text;
  if (answer.body !== null && typeof answer.body === 'object') body = JSON.stringify(answer.body, null, 2);
  const kind = answer.status < 300 ? 'ok' : answer.status < 500 ? 'warn' : 'bad';
  // Only the status line is announced; the headers and body are there to be read at will.
  replace(result,
    h('p', { class: 'response-line', role: 'status' },
      h('span', { class: `status status-${kind}`, id: 'explorer-status' }, String(answer.status)),
      h('code', {}, `${method} ${path}`), h('span', { class: 'muted small' }, ` ${millis} ms`)),
    h('h3', {}, 'Headers'),
    h('pre', { class: 'code', tabindex: '0' }, headerLines.sort().join('\n')),
    h('h3', {}, 'Body'),
    h('pre', { class: 'code', tabindex: '0', id: 'explorer-body' }, body || '(empty)'));
}
