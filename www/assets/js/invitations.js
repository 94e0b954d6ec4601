// /invitations#token=...: accept an invitation as the signed-in person (the
// invited address).  Not signed in: the token waits in this tab's
// sessionStorage while the person signs in and comes back here.

import { post, currentUser } from './api.js';
import { $, busy, fragmentParams, showError } from './ui.js';

const KEY = 'apx.invitation';

async function init() {
	let token = fragmentParams().get('token');
	if (token)
		sessionStorage.setItem(KEY, token);
	else
		token = sessionStorage.getItem(KEY);
	history.replaceState(null, '', '/invitations');
	if (!token) {
		showError('invitation-not-found');
		return;
	}
	const me = await currentUser().catch((e) => { showError(e); return null; });
	if (!me) {
		$('#invite-signin').hidden = false;
		$('#invite-login').href = '/login?return_to=' + encodeURIComponent('/invitations');
		return;
	}
	$('#invite-who').textContent = 'Signed in as ' + me.user.email + '.';
	$('#invite-ready').hidden = false;
	$('#invite-accept').focus();
	$('#invite-accept').addEventListener('click', (ev) => busy(ev.currentTarget, async () => {
		const r = await post('/api/v1/invitations/accept', { token });
		sessionStorage.removeItem(KEY);
		const slug = r && r.org && r.org.slug;
		location.assign(slug ? '/app/orgs?org=' + encodeURIComponent(slug) : '/app');
	}));
}

init();

// a mailed link opened in a tab already on this page changes only the
// fragment: read it again
window.addEventListener('hashchange', () => {
	if (new URLSearchParams(location.hash.replace(/^#/, '')).get('token'))
		location.reload();
});
