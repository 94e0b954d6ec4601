// Signing in elsewhere, as a person does it in a browser: /login's "Sign in
// with Google / Microsoft" through the stack's OpenID provider stand-in and
// its own login page (tests/standins/oidc), and "Sign in with SSO" by email
// through the demo org's OpenID IdP and through the SAML IdP (SimpleSAMLphp,
// tests/standins/saml) with its login form and its auto-posted answer.

import { test } from './lib/harness.mjs';
import { assert, until, url } from './lib/helpers.mjs';

const onApp = (u) => u.pathname === '/app' || u.pathname.startsWith('/app/');

function need(t, ...keys) {
	const missing = keys.filter((k) => !t.env[k]);
	assert.deepEqual(missing, [], `stack.env lacks ${missing.join(', ')} (scripts/stack starts the stand-ins)`);
}

// The OpenID stand-in's login page (server.mjs): login, password, Sign-in.
async function oidcLogin(page, providerUrl, login, password) {
	const origin = new URL(providerUrl).origin;
	await page.waitForURL((u) => u.origin === origin && u.pathname.startsWith('/interaction/'));
	await page.locator('input[name=login]').fill(login);
	await page.locator('input[name=password]').fill(password);
	await page.locator('button[type=submit]', { hasText: 'Sign-in' }).click();
}

async function landedAs(t, page, email) {
	await page.waitForURL(onApp);
	assert.ok(!new URL(page.url()).searchParams.get('error'), `signed in with an error: ${page.url()}`);
	await until(async () => ((await page.locator('#user-menu').textContent()) || '').trim() === email,
	    `#user-menu showing ${email}`);
}

for (const [provider, button, key] of [
	['Google', '#signin-google', 'OIDC'],
	['Microsoft', '#signin-microsoft', 'OIDC_MICROSOFT'],
]) {
	test(`sign in with ${provider} through the OpenID provider's login page`, async (t) => {
		const urlKey = provider === 'Google' ? 'OIDC_GOOGLE_URL' : 'OIDC_MICROSOFT_URL';
		need(t, urlKey, `${key}_TEST_USER`, `${key}_TEST_PASSWORD`);
		const { page } = t;
		await page.goto(url(t.env, '/login'));
		await page.locator(button).click();
		await oidcLogin(page, t.env[urlKey], t.env[`${key}_TEST_USER`], t.env[`${key}_TEST_PASSWORD`]);
		await landedAs(t, page, t.env[`${key}_TEST_USER`]);
		await t.shot(page, `signin-${provider.toLowerCase()}`);
	});
}

test('sign in with SSO by email: the org\'s OpenID IdP', async (t) => {
	need(t, 'OIDC_ORGIDP_URL', 'SSO_TEST_USER', 'SSO_TEST_PASSWORD', 'SSO_DEMO_ORG');
	const { page } = t;
	await page.goto(url(t.env, '/login'));
	await page.locator('form#sso-form #sso-email').fill(t.env.SSO_TEST_USER);
	await page.locator('form#sso-form [type=submit]').click();
	await oidcLogin(page, t.env.OIDC_ORGIDP_URL, t.env.SSO_TEST_USER, t.env.SSO_TEST_PASSWORD);
	await landedAs(t, page, t.env.SSO_TEST_USER);
	await until(async () => (await page.locator(`#org-switcher option[value="${t.env.SSO_DEMO_ORG}"]`).count()) === 1,
	    `#org-switcher listing ${t.env.SSO_DEMO_ORG}`);
});

test('sign in with SSO by email: SAML through the IdP\'s login form', async (t) => {
	need(t, 'SAML_IDP_URL', 'SAML_TEST_USER', 'SAML_TEST_PASSWORD', 'SAML_DEMO_ORG');
	const { page } = t;
	await page.goto(url(t.env, '/login'));
	await page.locator('form#sso-form #sso-email').fill(t.env.SAML_TEST_USER);
	await page.locator('form#sso-form [type=submit]').click();
	// SimpleSAMLphp's user/password form; its answer page posts the
	// SAMLResponse to the app's ACS by itself
	const idp = new URL(t.env.SAML_IDP_URL).origin;
	await page.waitForURL((u) => u.origin === idp && u.pathname.includes('loginuserpass'));
	await t.shot(page, 'signin-saml-idp');
	await page.locator('input[name=username]').fill(t.env.SAML_TEST_USER);
	await page.locator('input[name=password]').fill(t.env.SAML_TEST_PASSWORD);
	await page.locator('input[name=password]').press('Enter');
	await landedAs(t, page, t.env.SAML_TEST_USER);
	await until(async () => (await page.locator(`#org-switcher option[value="${t.env.SAML_DEMO_ORG}"]`).count()) === 1,
	    `#org-switcher listing ${t.env.SAML_DEMO_ORG}`);
	await t.shot(page, 'signin-saml');
});
