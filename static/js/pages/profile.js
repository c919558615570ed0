// The customer profile: view and edit (`PATCH /api/customers/{id}/`), create it when missing
// (`POST /api/customers/`), delete it (`DELETE`, refused while accounts are open).

import { api } from '../api.js';
import { confirmButton, dateTime, form, h, handleSubmit, replace, section, todayUtc } from '../dom.js';
import { GENDER_OPTIONS } from './register.js';

const EDITABLE = ['full_name', 'email', 'phone_number', 'date_of_birth', 'gender'];

export async function profilePage(container, context) {
  const envelope = await api('GET', '/api/customers/');
  if (!context.alive()) return;
  const customer = envelope.results[0] || null;
  container.append(h('div', { class: 'page-header' }, h('div', {}, h('h1', {}, 'Your profile'), h('p', { class: 'muted' }, customer ? `Customer #${customer.id} · username ${customer.username}` : 'You have no customer profile yet.'))));

  const profileForm = form('profile-form', {
    className: 'form-grid',
    fields: [
      { name: 'full_name', label: 'Full name', required: true, autocomplete: 'name', wide: true },
      { name: 'email', label: 'Email', type: 'email', required: true, autocomplete: 'email' },
      { name: 'phone_number', label: 'Phone number', type: 'tel', autocomplete: 'tel' },
      { name: 'date_of_birth', label: 'Date of birth', type: 'date', max: todayUtc(), autocomplete: 'bday' },
      { name: 'gender', label: 'Gender', type: 'select', options: GENDER_OPTIONS },
    ].map((spec) => ({ ...spec, value: customer ? customer[spec.name] ?? '' : '' })),
    submit: customer ? 'Save profile' : 'Create profile',
  });
  const stamps = h('p', { class: 'muted small' });
  const showStamps = (c) => replace(stamps, c ? `Created ${dateTime(c.created_at)} UTC · last changed ${dateTime(c.updated_at)} UTC` : '');
  showStamps(customer);

  handleSubmit(profileForm, async (fields) => {
    // Blank optional fields are sent as null, which clears them (DRF's allow_null).
    const body = {};
    for (const name of EDITABLE) body[name] = fields[name] === '' && !['full_name', 'email'].includes(name) ? null : fields[name];
    if (!customer) {
      await api('POST', '/api/customers/', { body });
      context.navigate('/profile/', { replaceState: true });
      return null;
    }
    const saved = await api('PATCH', `/api/customers/${customer.id}/`, { body });
    Object.assign(customer, saved);
    showStamps(saved);
    return 'Profile saved.';
  });

  container.append(section(customer ? 'Details' : 'Create your customer profile', profileForm, stamps));
  if (customer) container.append(deleteSection(customer, context));
}

function deleteSection(customer, context) {
  const message = h('div', { class: 'form-message', role: 'status', 'aria-live': 'polite' });
  return section('Delete profile',
    h('p', { class: 'muted' }, 'Your login stays; you can create a new profile later. Refused while you have open accounts.'),
    message,
    confirmButton('Delete profile…', 'Delete your customer profile?', 'Yes, delete it', async () => {
      try {
        await api('DELETE', `/api/customers/${customer.id}/`);
        context.navigate('/profile/', { replaceState: true });
      } catch (error) {
        if (error.expired) return;
        message.className = 'form-message error';
        replace(message, error.messages().general.join(' ') || error.message);
      }
    }));
}
