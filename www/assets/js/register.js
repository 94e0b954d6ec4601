// /register: an account, then the verification mail (the same answer for a
// new and a taken address: the mailbox learns which).

import { post } from './api.js';
import { $, onSubmit, showNotice } from './ui.js';

onSubmit($('#register-form'), async (v, form) => {
	await post('/api/v1/auth/register', {
		email: v.email || '', name: v.name || '', password: $('#password').value,
	});
	form.reset();
	form.hidden = true;
	showNotice('Check your inbox: we sent a link to verify ' + (v.email || 'your address') +
	    '. Open it, then sign in.');
});
$('#email').focus();
