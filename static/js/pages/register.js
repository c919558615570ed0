// Registration (`POST /api/register/`): a login and its customer profile in one step. Every
// DRF field error is shown next to its field, `non_field_errors` at the top.

import { api, flash } from '../api.js';
import { form, h, handleSubmit, todayUtc } from '../dom.js';

export const GENDER_OPTIONS = [
  ['', 'Prefer not to say'],
  ['F', 'Female'],
  ['M', 'Male'],
  ['O', 'Other'],
];

export async function registerPage(container, { navigate }) {
  const registerForm = form('register-form', {
    className: 'form-grid',
    fields: [
      { name: 'username', label: 'Username', required: true, autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', hint: 'Letters, digits and @ . + - _ only.' },
      { name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'email' },
      { name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 8 characters, not only digits, not a common password.' },
      { name: 'password2', label: 'Password again', type: 'password', required: true, autocomplete: 'new-password' },
      { name: 'full_name', label: 'Full name', required: true, autocomplete: 'name', wide: true },
      { name: 'phone_number', label: 'Phone number', type: 'tel', autocomplete: 'tel' },
      { name: 'date_of_birth', label: 'Date of birth', type: 'date', max: todayUtc(), autocomplete: 'bday' },
      { name: 'gender', label: 'Gender', type: 'select', options: GENDER_OPTIONS },
    ],
    submit: 'Create login',
  });
  handleSubmit(
    registerForm,
    async (fields) => {
      const created = await api('POST', '/api/register/', { body: fields, auth: false });
      flash.set(`Welcome, ${created.username}! Your login is ready — log in to open your first account.`, 'success');
      navigate(`/api-auth/login/?username=${encodeURIComponent(created.username)}`);
    },
    { dropEmpty: true },
  );
  container.append(
    h('section', { class: 'card narrow wide-form auth-card' },
      h('h1', {}, 'Create your login'),
      h('p', { class: 'muted' }, 'This creates your login and your customer profile. You can change the profile later.'),
      registerForm,
      h('p', { class: 'muted' }, 'Already registered? ', h('a', { href: '/api-auth/login/', 'data-link': true }, 'Log in'), '.')),
  );
  registerForm.querySelector('[name=username]').focus();
}
