// The console's entry point: the page registry, the router and the navigation bar.
//
// Every page is one entry in `PAGES`: its path pattern, its title, whether it needs a session,
// its place in the navigation, and whether it is for staff only. Who the caller is comes from
// `GET /api/me/` (asked once per session): the console never calls a staff route to find out,
// because a customer's `403` there is a real permission denial and lands in the audit log.
// Adding a page is adding an entry and a module under pages/.

import { api, flash, session } from './api.js';
import { h, replace } from './dom.js';
import { accountPage } from './pages/account.js';
import { cardsPage } from './pages/cards.js';
import { dashboardPage } from './pages/dashboard.js';
import { explorerPage } from './pages/explorer.js';
import { loginPage, logoutPage } from './pages/login.js';
import { profilePage } from './pages/profile.js';
import { registerPage } from './pages/register.js';
import { staffPage } from './pages/staff.js';
import { statementPage, statementsPage } from './pages/statements.js';

const PAGES = [
  { path: '/', title: 'Accounts', nav: 'Accounts', render: dashboardPage },
  { path: '/accounts/:id/', title: 'Account', navFor: '/', render: accountPage },
  { path: '/cards/', title: 'Cards', nav: 'Cards', render: cardsPage },
  { path: '/statements/', title: 'Statements', nav: 'Statements', render: statementsPage },
  { path: '/statements/:id/', title: 'Statement', navFor: '/statements/', render: statementPage },
  { path: '/profile/', title: 'Profile', nav: 'Profile', render: profilePage },
  { path: '/explorer/', title: 'API explorer', nav: 'API explorer', public: true, render: explorerPage },
  { path: '/staff/', title: 'Staff', nav: 'Staff', staff: true, render: staffPage },
  { path: '/staff/:section/', title: 'Staff', navFor: '/staff/', staff: true, render: staffPage },
  { path: '/api-auth/login/', title: 'Log in', public: true, render: loginPage },
  { path: '/api-auth/logout/', title: 'Log out', public: true, render: logoutPage },
  { path: '/register/', title: 'Create your login', public: true, render: registerPage },
];

/// The caller (`GET /api/me/`), asked once per token: token -> Promise<me or null>.
let me = null;
let meToken = null;

/// Resolves to the current user, or `null` when the answer did not come (the page then treats
/// the caller as a customer: staff pages are hidden, never probed).
function whoAmI() {
  if (meToken !== session.token || !me) {
    meToken = session.token;
    me = api('GET', '/api/me/').catch((error) => {
      me = null;
      if (error && error.expired) throw error;
      return null;
    });
  }
  return me;
}

async function mayOpen(page) {
  if (!page.staff) return true;
  const user = await whoAmI();
  return Boolean(user && user.is_staff);
}

function match(pathname) {
  const path = pathname.endsWith('/') ? pathname : `${pathname}/`;
  for (const page of PAGES) {
    const names = [];
    const pattern = page.path.replace(/:(\w+)/g, (_, name) => {
      names.push(name);
      return '([^/]+)';
    });
    const found = new RegExp(`^${pattern}$`).exec(path);
    if (found) {
      const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(found[i + 1])]));
      return { page, params };
    }
  }
  return null;
}

/// Goes to `url` (a path with optional query) inside the console.
export function navigate(url, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

let renderCount = 0;

async function render() {
  const renderId = (renderCount += 1);
  const main = document.getElementById('main');
  const location = window.location;
  const found = match(location.pathname);
  showFlash();
  if (!found) {
    document.title = 'Page not found · bankd';
    await renderNav(null, renderId).catch(() => {});
    if (renderId !== renderCount) return;
    replace(main, notFound(location.pathname));
    focusHeading(main);
    return;
  }
  const { page, params } = found;
  if (!page.public && !session.token) {
    const next = location.pathname + location.search;
    navigate(`/api-auth/login/${next === '/' ? '' : `?next=${encodeURIComponent(next)}`}`, { replaceState: true });
    return;
  }
  document.title = `${page.title} · bankd`;
  try {
    await renderNav(page, renderId);
  } catch (error) {
    if (error && error.expired) return;
  }
  if (renderId !== renderCount) return;
  if (!(await mayOpen(page).catch(() => false))) {
    if (renderId !== renderCount) return;
    replace(main, h('section', { class: 'card narrow' }, h('h1', { tabindex: '-1' }, `${page.title} pages are for staff`), h('p', {}, 'Your login is not a staff login. ', h('a', { href: '/', 'data-link': true }, 'Back to your accounts'))));
    focusHeading(main);
    return;
  }
  const container = h('div', { class: 'page' });
  replace(main, container);
  const context = {
    params,
    query: new URLSearchParams(location.search),
    alive: () => renderId === renderCount,
    navigate,
    setTitle: (title) => {
      document.title = `${title} · bankd`;
    },
  };
  try {
    await page.render(container, context);
  } catch (error) {
    if (error && error.expired) return;
    if (!context.alive()) return;
    console.error(error);
    replace(container, h('section', { class: 'card narrow' }, h('h1', { tabindex: '-1' }, 'This page could not be loaded'), h('p', { class: 'form-message error' }, error.message || String(error))));
  }
  if (context.alive()) focusHeading(main);
}

/// The console's own "not found" page, for a console URL that names no page.
function notFound(pathname) {
  return h('section', { class: 'card narrow not-found' },
    h('p', { class: 'not-found-code', 'aria-hidden': 'true' }, '404'),
    h('h1', { tabindex: '-1' }, 'Page not found'),
    h('p', {}, 'There is no console page at ', h('code', {}, pathname), '. Check the address, or go on from here:'),
    h('ul', { class: 'link-list' },
      h('li', {}, h('a', { href: '/', 'data-link': true }, session.token ? 'Your accounts' : 'Log in')),
      h('li', {}, h('a', { href: '/explorer/', 'data-link': true }, 'The API explorer'))));
}

/// Moves focus to the page's heading, so screen readers announce the new page.
function focusHeading(main) {
  const heading = main.querySelector('h1');
  if (heading && document.activeElement === document.body) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

function showFlash() {
  const slot = document.getElementById('flash');
  const message = flash.take();
  if (!message) {
    replace(slot);
    slot.className = 'flash';
    return;
  }
  slot.className = `flash flash-${message.kind}`;
  replace(slot, h('div', { class: 'flash-inner' }, message.text));
}

async function renderNav(current, renderId) {
  const nav = document.getElementById('nav');
  if (!session.token) {
    replace(
      nav,
      h('ul', { class: 'nav-list' },
        h('li', {}, navLink('/api-auth/login/', 'Log in', current)),
        h('li', {}, navLink('/register/', 'Register', current)),
        h('li', {}, navLink('/explorer/', 'API explorer', current))),
    );
    return;
  }
  const user = await whoAmI();
  const entries = [];
  for (const page of PAGES.filter((p) => p.nav)) {
    if (page.staff && !(user && user.is_staff)) continue;
    entries.push(h('li', {}, navLink(page.path, page.nav, current)));
  }
  if (renderId !== renderCount) return;
  replace(
    nav,
    h('ul', { class: 'nav-list' },
      entries,
      h('li', { class: 'nav-user' }, h('span', { class: 'username', title: 'Logged in as' }, (user && user.username) || session.username, user && user.is_staff ? h('span', { class: 'badge badge-staff' }, 'Staff') : null)),
      h('li', {}, h('a', { href: '/api-auth/logout/', 'data-link': true, class: 'nav-logout' }, 'Log out'))),
  );
}

function navLink(path, label, current) {
  const active = current && (current.path === path || current.navFor === path);
  return h('a', { href: path, 'data-link': true, 'aria-current': active ? 'page' : null }, label);
}

// Links inside the console change the page without a reload.
document.addEventListener('click', (event) => {
  const link = event.target.closest('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, window.location.href);
  if (url.origin !== window.location.origin || !match(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
  window.scrollTo(0, 0);
});

window.addEventListener('popstate', render);

window.addEventListener('bankd:expired', () => {
  if (window.location.pathname.startsWith('/api-auth/')) {
    render();
    return;
  }
  const next = window.location.pathname + window.location.search;
  navigate(`/api-auth/login/?next=${encodeURIComponent(next)}`, { replaceState: true });
});

render();
