// The one door to the bankd API: the session token, JSON in and out, and the contract's errors.
//
// The token lives only in sessionStorage (gone when the tab closes) and is sent as
// `Authorization: Token <key>`. Any 401 on an authenticated call ends the session: the router
// hears the `bankd:expired` event and sends the user back to the login page with a message.

const TOKEN_KEY = 'bankd.token';
const USERNAME_KEY = 'bankd.username';
const FLASH_KEY = 'bankd.flash';

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get username() {
    return sessionStorage.getItem(USERNAME_KEY) || '';
  },
  start(token, username) {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(USERNAME_KEY, username);
  },
  end() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USERNAME_KEY);
  },
};

/// A message shown once on the next page (it survives the navigation, not the tab).
export const flash = {
  set(text, kind = 'info') {
    sessionStorage.setItem(FLASH_KEY, JSON.stringify({ text, kind }));
  },
  take() {
    const stored = sessionStorage.getItem(FLASH_KEY);
    sessionStorage.removeItem(FLASH_KEY);
    if (!stored) return null;
    try {
      return JSON.parse(stored);
    } catch {
      return null;
    }
  },
};

export const SESSION_EXPIRED = 'Your session has expired. Please log in again.';

/// A refused or failed request. `body` is the parsed JSON body (DRF field errors or
/// `{detail, code}`); `status` 0 means the server could not be reached.
export class ApiError extends Error {
  constructor(status, body, expired = false) {
    super(describe(status, body));
    this.status = status;
    this.body = body;
    this.expired = expired;
  }

  get code() {
    return this.body && typeof this.body.code === 'string' ? this.body.code : '';
  }

  /// Splits the body into messages per field and messages for the whole form.
  messages() {
    const fields = {};
    const general = [];
    const body = this.body;
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      if (typeof body.detail === 'string') {
        general.push(body.detail);
      } else {
        for (const [name, value] of Object.entries(body)) {
          const list = Array.isArray(value) ? value.map(String) : [String(value)];
          if (name === 'non_field_errors' || name === 'detail') general.push(...list);
          else fields[name] = list;
        }
      }
    } else if (Array.isArray(body)) {
      general.push(...body.map(String));
    }
    if (!general.length && !Object.keys(fields).length) general.push(this.message);
    return { fields, general };
  }
}

function describe(status, body) {
  if (body && typeof body.detail === 'string') return body.detail;
  if (status === 0) return 'The server could not be reached. Check that bankd is running, then try again.';
  return `The server answered ${status}.`;
}

/// Sends one request and returns `{status, headers, body}` without judging the status.
/// Used by the API explorer and logout; everything else uses `api()`.
export async function send(method, path, { body, headers = {}, auth = true, expire = true } = {}) {
  const requestHeaders = { Accept: 'application/json', ...headers };
  const sentToken = auth && session.token;
  if (sentToken) requestHeaders.Authorization = `Token ${session.token}`;
  let payload;
  if (body !== undefined && body !== null) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    if (!Object.keys(requestHeaders).some((k) => k.toLowerCase() === 'content-type')) {
      requestHeaders['Content-Type'] = 'application/json';
    }
  }
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: requestHeaders,
      body: payload,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(0, null);
  }
  if (response.status === 401 && sentToken && expire) {
    expireSession();
    throw new ApiError(401, { detail: SESSION_EXPIRED, code: 'session_expired' }, true);
  }
  const text = await response.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/// Sends one request; resolves to the parsed body of a 2xx answer, rejects with `ApiError`.
export async function api(method, path, options = {}) {
  const answer = await send(method, path, options);
  if (answer.status < 200 || answer.status > 299) {
    const body = typeof answer.body === 'string' ? { detail: answer.body } : answer.body;
    throw new ApiError(answer.status, body);
  }
  return answer.body;
}

function expireSession() {
  // Several requests may fail at once; the first one ends the session and tells the router.
  if (!session.token) return;
  session.end();
  flash.set(SESSION_EXPIRED, 'error');
  window.dispatchEvent(new CustomEvent('bankd:expired'));
}

/// A fresh `Idempotency-Key`: a random UUID. `crypto.randomUUID` exists only in secure
/// contexts (https, localhost); elsewhere the same version-4 UUID is built by hand.
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/// Every page of a list endpoint, `page_size` 100 at a time, up to `maxItems` (newest first
/// for transactions). Pages after the first are fetched a few at a time in parallel.
export async function fetchAll(path, params, { maxItems = 20000, parallel = 4 } = {}) {
  const pageSize = 100;
  const query = (page) => {
    const search = new URLSearchParams(params);
    search.set('page_size', String(pageSize));
    search.set('page', String(page));
    return `${path}?${search}`;
  };
  const first = await api('GET', query(1));
  const results = [...first.results];
  const wanted = Math.min(first.count, maxItems);
  const pages = Math.ceil(wanted / pageSize);
  for (let start = 2; start <= pages; start += parallel) {
    const batch = [];
    for (let page = start; page < start + parallel && page <= pages; page += 1) {
      batch.push(api('GET', query(page)));
    }
    for (const answer of await Promise.all(batch)) results.push(...answer.results);
  }
  return { count: first.count, results: results.slice(0, wanted) };
}

/// Downloads a file answer (a statement's CSV) with the token; resolves to `{blob, filename}`.
export async function download(path) {
  let response;
  try {
    response = await fetch(path, { headers: session.token ? { Authorization: `Token ${session.token}` } : {}, cache: 'no-store', credentials: 'omit' });
  } catch {
    throw new ApiError(0, null);
  }
  if (response.status === 401 && session.token) {
    expireSession();
    throw new ApiError(401, { detail: SESSION_EXPIRED, code: 'session_expired' }, true);
  }
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new ApiError(response.status, body);
  }
  const disposition = response.headers.get('Content-Disposition') || '';
  const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  return { blob: await response.blob(), filename: named ? decodeURIComponent(named[1]) : 'download' };
}
