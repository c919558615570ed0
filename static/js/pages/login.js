// Logging in (`POST /api/get-token/`) and out (`POST /api/logout/` revokes the token).

import { api, flash, send, session } from '../api.js';
import { form, h, handleSubmit } from '../dom.js';

export async function loginPage(container, { query, navigate }) {
  const loginForm = form('login-form', {
    fields: [
      { name: 'username', label: 'Username', required: true, autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', value: query.get('username') || '' },
      { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password' },
    ],
    submit: 'Log in',
  });
  handleSubmit(loginForm, async ({ username, password }) => {
    const answer = await api('POST', '/api/get-token/', { body: { username, password: password ?? '' }, auth: false });
    session.start(answer.token, username);
    const next = query.get('next');
    // Only a path inside the console, never another origin.
    navigate(next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/api-auth/') ? next : '/', { replaceState: true });
  });
  container.append(
    h('section', { class: 'card narrow auth-card' },
      h('h1', {}, 'Log in to bankd'),
      session.token
        ? h('p', { class: 'notice' }, `You are logged in as ${session.username}. Logging in again replaces that session.`)
        : null,
      loginForm,
      h('p', { class: 'muted' }, 'New here? ', h('a', { href: '/register/', 'data-link': true }, 'Create a login and customer profile'), '.')),
  );
  const username = loginForm.querySelector('[name=username]');
  (username.value ? loginForm.querySelector('[name=password]') : username).focus();
}

export async function logoutPage(container, { navigate }) {
  if (session.token) {
    try {
      // A 401 here means the token was already invalid, which is what logging out wants.
      await send('POST', '/api/logout/', { expire: false });
    } catch (error) {
      console.warn('logout', error);
    }
    session.end();
    flash.set('You have been logged out.', 'success');
    navigate('/api-auth/logout/', { replaceState: true });
    return;
  }
  container.append(
    h('section', { class: 'card narrow auth-card' },
      h('h1', {}, 'Logged out'),
      h('p', {}, 'Your token has been revoked. Close the tab or log in again.'),
      h('p', {}, h('a', { class: 'button primary', href: '/api-auth/login/', 'data-link': true }, 'Log in again'))),
  );
}
