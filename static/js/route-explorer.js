// The browsable API page (static/explorer.html): fetches the page's own URL as JSON, as the
// user the console is logged in as, and shows the status and body. URLs in the body that point
// back into /api/ (pagination links) become links, so a list can be paged in the browser.
//
// Only text is ever inserted (textContent, never innerHTML): the body is data from the API.

const TOKEN_KEY = 'bankd.token';
const USERNAME_KEY = 'bankd.username';

/// The same URL without `format=api`, which asks for this page rather than for the data.
function dataUrl() {
  const url = new URL(window.location.href);
  if (url.searchParams.get('format') === 'api') url.searchParams.delete('format');
  return url.pathname + url.search;
}

function statusClass(status) {
  if (status >= 200 && status < 300) return 'status status-ok';
  if (status >= 400 && status < 500) return 'status status-warn';
  return 'status status-bad';
}

/// Appends `text` to `parent`, turning absolute or rooted URLs into /api/ into links.
function appendWithLinks(parent, text) {
  const pattern = /"((?:https?:\/\/[^"\s/]+)?\/api\/[^"\s]*)"/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    parent.append(text.slice(last, match.index + 1));
    // Same origin, whatever host the server put in the link: only the path and query are kept.
    const target = new URL(match[1], window.location.href);
    const link = document.createElement('a');
    link.href = target.pathname + target.search;
    link.textContent = match[1];
    parent.append(link, '"');
    last = match.index + match[0].length;
  }
  parent.append(text.slice(last));
}

async function show() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const path = dataUrl();
  document.getElementById('route-title').textContent = window.location.pathname;
  document.getElementById('route-request').textContent = `GET ${path}`;
  document.getElementById('route-who').textContent = token
    ? `Fetched as ${sessionStorage.getItem(USERNAME_KEY) || 'you'}, with the console's token.`
    : 'Not logged in: fetched without a token. Log in on the console first.';
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Token ${token}`;
  const status = document.getElementById('route-status');
  const body = document.getElementById('route-body');
  try {
    const response = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' });
    const text = await response.text();
    let pretty = text;
    try {
      pretty = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      // Not JSON (CSV, metrics): shown as it came.
    }
    status.textContent = String(response.status);
    status.className = statusClass(response.status);
    body.textContent = '';
    appendWithLinks(body, pretty || '(empty)');
  } catch {
    status.textContent = '0';
    status.className = statusClass(0);
    body.textContent = 'The server could not be reached.';
  }
}

show();
