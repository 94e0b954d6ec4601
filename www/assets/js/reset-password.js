// /reset-password: without a token, ask for a link; with #token=..., choose
// the new password (every session of the account ends).

import { post } from './api.js';
import { $, fragmentParams, onSubmit, showNotice } from './ui.js';

const token = fragmentParams().get('token');
history.replaceState(null, '', '/reset-password');

if (token) {
	$('#reset-confirm-form').hidden = false;
	$('#password').focus();
} else {
	$('#reset-request-form').hidden = false;
	$('#email').focus();
}

onSubmit($('#reset-request-form'), async (v, form) => {
	await post('/api/v1/auth/password-reset', { email: v.email || '' });
	form.hidden = true;
	showNotice('If an account has that address, a link to reset its password is on its way.');
});

onSubmit($('#reset-confirm-form'), async (v, form) => {
	await post('/api/v1/auth/password-reset/confirm', { token, password: $('#password').value });
	form.reset();
	form.hidden = true;
	showNotice('Your password is set. Sign in with it now.');
	$('#to-login').focus();
});

// a mailed link opened in a tab already on this page changes only the
// fragment: read it again
window.addEventListener('hashchange', () => {
	if (new URLSearchParams(location.hash.replace(/^#/, '')).get('token'))
		location.reload();
});
