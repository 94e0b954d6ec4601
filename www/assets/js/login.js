// /login: password, then the second factor when the account has one;
// Google / Microsoft; single sign-on found by the email's domain.
// /login?error=CODE shows why a sign-in redirect failed; /login?mfa=CHALLENGE
// asks for the code of a Google / Microsoft sign-in.

import { post } from './api.js';
import { $, onSubmit, showError, safeReturn } from './ui.js';

const params = new URLSearchParams(location.search);
const returnTo = safeReturn(params.get('return_to'));
let challenge = params.get('mfa');

function done() {
	location.assign(returnTo);
}

function askCode(ch) {
	challenge = ch;
	$('#login-form').hidden = true;
	$('#other-ways').hidden = true;
	$('#mfa-form').hidden = false;
	$('#mfa-code').focus();
}

function init() {
	for (const id of ['signin-google', 'signin-microsoft']) {
		const a = document.getElementById(id);
		const u = new URL(a.getAttribute('href'), location.origin);
		u.searchParams.set('return_to', returnTo);
		a.href = u.pathname + u.search;
	}
	if (params.get('error'))
		showError(params.get('error'));
	if (challenge) {
		history.replaceState(null, '', '/login');
		askCode(challenge);
	} else {
		$('#email').focus();
	}

	onSubmit($('#login-form'), async (v) => {
		const r = await post('/api/v1/auth/login', { email: v.email || '', password: v.password || '' });
		$('#password').value = '';
		if (r && r.mfa_required)
			askCode(r.challenge);
		else
			done();
	});

	onSubmit($('#mfa-form'), async (v) => {
		const code = (v.code || '').replace(/[\s-]/g, '');
		const body = { challenge };
		if (/^[0-9]{6}$/.test(code))
			body.code = code;
		else
			body.recovery_code = v.code || '';
		try {
			await post('/api/v1/auth/mfa', body);
		} catch (e) {
			$('#mfa-code').value = '';
			if (e.slug === 'invalid-challenge') {
				$('#mfa-form').hidden = true;
				$('#login-form').hidden = false;
				$('#other-ways').hidden = false;
			}
			throw e;
		}
		done();
	});

	onSubmit($('#sso-form'), async (v) => {
		const r = await post('/api/v1/auth/sso/lookup', { email: v.email || '' });
		if (r && r.sso && r.start_url) {
			const u = new URL(r.start_url, location.origin);
			if (u.origin !== location.origin)
				throw new Error('unexpected SSO start URL');
			if (returnTo !== '/app')
				u.searchParams.set('return_to', returnTo);
			location.assign(u.pathname + u.search);
			return;
		}
		showError('sso-not-configured');
	});
}

init();
