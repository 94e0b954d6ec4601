// /verify-email#token=...: the token is posted to the API and dropped from
// the address bar; the page never sends it anywhere else.

import { post, currentUser } from './api.js';
import { $, fragmentParams, onSubmit, showError, showNotice } from './ui.js';

async function init() {
	const token = fragmentParams().get('token');
	history.replaceState(null, '', '/verify-email');
	$('#working').hidden = true;
	if (token) {
		try {
			await post('/api/v1/auth/verify-email', { token });
			showNotice('Your email address is verified. You can sign in now.');
			$('#next').hidden = false;
			$('#to-login').focus();
			return;
		} catch (e) {
			showError(e);
		}
	} else {
		showError('invalid-token');
	}
	const me = await currentUser().catch(() => null);
	if (me && !me.user.email_verified)
		$('#resend-form').hidden = false;
	else
		$('#next').hidden = false;
}

onSubmit($('#resend-form'), async () => {
	await post('/api/v1/me/verify-email', undefined);
	showNotice('A new link is on its way.');
});

init();

// a mailed link opened in a tab already on this page changes only the
// fragment: read it again
window.addEventListener('hashchange', () => {
	if (new URLSearchParams(location.hash.replace(/^#/, '')).get('token'))
		location.reload();
});
