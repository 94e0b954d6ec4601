// /login: a wrong password and an unknown address show the same friendly
// message, marked with the problem type the API answered; the second-factor
// step, after a password and for /login?mfa=CHALLENGE (the step a Google or
// Microsoft sign-in of such an account comes back to).

import { test } from './lib/harness.mjs';
import {
	assert, Api, cookieNames, expectError, mailedLink, newAccount, strongPassword, totp, uniqueEmail,
	until, url,
} from './lib/helpers.mjs';

test('login: a wrong password and an unknown address show #error[data-type=invalid-credentials]', async (t) => {
	const acct = await newAccount(t.env, 'wrongpw');
	// the slug the API really answers
	const r = await new Api(t.env).raw('POST', '/api/v1/auth/login',
	    { email: acct.email, password: strongPassword() });
	assert.equal(r.status, 401, JSON.stringify(r.body));
	const slug = String(r.body.type).split('/').pop();
	assert.equal(slug, 'invalid-credentials');

	const { page } = t;
	const tries = [
		['a wrong password', acct.email],
		['an unknown address', uniqueEmail('nobody')],
	];
	const texts = [];
	for (const [what, email] of tries) {
		await page.goto(url(t.env, '/login'));
		await page.locator('form#login-form #email').fill(email);
		await page.locator('form#login-form #password').fill(strongPassword());
		await page.locator('form#login-form [type=submit]').click();
		const text = await expectError(page, slug);
		assert.ok(text.length > 0, `${what}: #error is empty`);
		assert.equal(await page.locator('#error').getAttribute('role'), 'alert');
		assert.equal(new URL(page.url()).pathname, '/login', `${what}: left /login`);
		texts.push(text);
	}
	assert.equal(texts[0], texts[1], 'a wrong password and an unknown address read differently');
	await t.shot(page, 'login-error');
	const names = await cookieNames(t.context, t.env);
	assert.ok(!names.includes('__Host-apx_access'), `a session cookie after failed logins: ${names}`);

	// and the right password still works from here
	await page.locator('form#login-form #email').fill(acct.email);
	await page.locator('form#login-form #password').fill(acct.password);
	await page.locator('form#login-form [type=submit]').click();
	await page.waitForURL((u) => u.pathname.startsWith('/app'));
});

// An account with a confirmed second factor: {…account, secret, recovery}.
// It is confirmed with the code of the step before now's, so that now's
// code (and the next one) are still unspent for the sign-ins below.
async function accountWithMfa(env) {
	const acct = await newAccount(env, 'mfa');
	const api = await new Api(env).login(acct.email, acct.password);
	const { secret } = await api.post('/api/v1/me/mfa', { password: acct.password }, 200);
	const step = Math.floor(Date.now() / 30000);
	const r = await api.post('/api/v1/me/mfa/confirm', { code: totp(secret, step - 1) }, 200);
	return { ...acct, secret, recovery: r.recovery_codes };
}

test('login: an account with a second factor is asked for its code, and gets in with it', async (t) => {
	const acct = await accountWithMfa(t.env);
	const { page } = t;
	await page.goto(url(t.env, '/login'));
	await page.locator('form#login-form #email').fill(acct.email);
	await page.locator('form#login-form #password').fill(acct.password);
	await page.locator('form#login-form [type=submit]').click();
	await page.locator('form#mfa-form #mfa-code').waitFor({ state: 'visible' });
	assert.equal(await page.locator('form#login-form').isVisible(), false);
	assert.ok(!(await cookieNames(t.context, t.env)).includes('__Host-apx_access'),
	    'a session cookie before the second factor');
	await t.shot(page, 'login-mfa');
	// a wrong code first: the step stays, with the API's message
	const good = totp(acct.secret);
	const bad = String((Number(good) + 1) % 1000000).padStart(6, '0');
	await page.locator('form#mfa-form #mfa-code').fill(bad);
	await page.locator('form#mfa-form [type=submit]').click();
	await expectError(page, 'invalid-code');
	await page.locator('form#mfa-form #mfa-code').fill(totp(acct.secret));
	await page.locator('form#mfa-form [type=submit]').click();
	await page.waitForURL((u) => u.pathname.startsWith('/app'));
	await until(async () => ((await page.locator('#user-menu').textContent()) || '').trim() === acct.email,
	    `#user-menu showing ${acct.email}`);
});

test('login: /login?mfa=CHALLENGE asks for the second factor; a recovery code works', async (t) => {
	const acct = await accountWithMfa(t.env);
	const r = await new Api(t.env).raw('POST', '/api/v1/auth/login', { email: acct.email, password: acct.password });
	assert.equal(r.status, 200, JSON.stringify(r.body));
	assert.ok(r.body.mfa_required && r.body.challenge, `no challenge: ${JSON.stringify(r.body)}`);
	const { page } = t;
	await page.goto(url(t.env, '/login?mfa=' + encodeURIComponent(r.body.challenge)));
	await page.locator('form#mfa-form #mfa-code').waitFor({ state: 'visible' });
	assert.ok(!page.url().includes(r.body.challenge), `the challenge stays in the address bar: ${page.url()}`);
	await page.locator('form#mfa-form #mfa-code').fill(acct.recovery[0]);
	await page.locator('form#mfa-form [type=submit]').click();
	await page.waitForURL((u) => u.pathname.startsWith('/app'));
	await until(async () => ((await page.locator('#user-menu').textContent()) || '').trim() === acct.email,
	    `#user-menu showing ${acct.email}`);
	// the recovery code is spent
	const mfa = await page.evaluate(async () => (await fetch('/api/v1/me/mfa')).json());
	assert.equal(mfa.recovery_codes_left, acct.recovery.length - 1, JSON.stringify(mfa));
});

test('login by keyboard alone: the skip link first, then email, password, Enter', async (t) => {
	const acct = await newAccount(t.env, 'keys');
	const { page } = t;
	await page.goto(url(t.env, '/login'));
	await page.locator('form#login-form #email').waitFor();
	const focused = () => page.evaluate(() => {
		const a = document.activeElement;
		return a ? (a.id ? '#' + a.id : a.tagName.toLowerCase() + (a.className ? '.' + a.className : '')) : '';
	});
	// the first stop in the tab order is the skip link to <main>
	const first = await page.evaluate(() => {
		const stops = [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
		    .filter((e) => e.tabIndex >= 0 && !e.disabled && !e.closest('[hidden]'));
		return stops.length ? stops[0].getAttribute('href') : null;
	});
	assert.equal(first, '#main', 'the first tab stop is not the skip link');
	// the page opens with the email field focused
	await until(async () => (await focused()) === '#email', 'focus in #email');
	await page.keyboard.type(acct.email);
	await page.keyboard.press('Tab');
	assert.equal(await focused(), '#password');
	await page.keyboard.type(acct.password);
	await page.keyboard.press('Enter');
	await page.waitForURL((u) => u.pathname.startsWith('/app'));
	await until(async () => ((await page.locator('#user-menu').textContent()) || '').trim() === acct.email,
	    `#user-menu showing ${acct.email}`);
});

test('password reset: ask for the link, open the mailed link, set a new password, sign in with it', async (t) => {
	const acct = await newAccount(t.env, 'reset');
	let { page } = t;
	await page.goto(url(t.env, '/login'));
	await page.locator('a[href="/reset-password"]').click();
	await page.waitForURL((u) => u.pathname === '/reset-password');
	await page.locator('form#reset-request-form #email').fill(acct.email);
	await page.locator('form#reset-request-form [type=submit]').click();
	await page.locator('#notice').waitFor({ state: 'visible' });
	const link = await mailedLink(t.env, acct.email, '/reset-password', { subject: 'Reset your' });
	// the mail's link opens in a new tab
	const tab = await t.context.newPage();
	await page.close();
	await tab.goto(link);
	page = tab;
	await page.locator('form#reset-confirm-form #password').waitFor({ state: 'visible' });
	assert.ok(!page.url().includes('token='), `the token stays in the address bar: ${page.url()}`);
	await t.shot(page, 'reset-password');
	const fresh = strongPassword();
	await page.locator('form#reset-confirm-form #password').fill(fresh);
	await page.locator('form#reset-confirm-form [type=submit]').click();
	await page.locator('#notice').waitFor({ state: 'visible' });
	await page.locator('a#to-login').click();
	await page.waitForURL((u) => u.pathname === '/login');
	await page.locator('form#login-form #email').fill(acct.email);
	await page.locator('form#login-form #password').fill(fresh);
	await page.locator('form#login-form [type=submit]').click();
	await page.waitForURL((u) => u.pathname.startsWith('/app'));
	// the old password no longer works
	const r = await new Api(t.env).raw('POST', '/api/v1/auth/login', { email: acct.email, password: acct.password });
	assert.equal(r.status, 401, JSON.stringify(r.body));
});
