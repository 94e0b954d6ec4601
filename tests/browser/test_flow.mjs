// The main path through the pages, as two people do it in two browsers:
// register → the verification mail's link → sign in → a new organisation →
// invite a second person, who registers, verifies, opens the invitation
// link and accepts → change their role → an API key, shown once → sign out.

import { test } from './lib/harness.mjs';
import {
	assert, Api, cookieNames, mailedLink, shownText, strongPassword, uniqueEmail,
	uniqueSlug, until, url,
} from './lib/helpers.mjs';

const APP = (u) => u.pathname === '/app' || u.pathname.startsWith('/app/');

// /register → the mail → /verify-email → /login → /app, in PAGE.
async function registerAndSignIn(t, page, who, shots) {
	await page.goto(url(t.env, '/register'));
	await page.locator('form#register-form #email').fill(who.email);
	await page.locator('form#register-form #name').fill(who.name);
	await page.locator('form#register-form #password').fill(who.password);
	if (shots)
		await t.shot(page, 'register');
	await page.locator('form#register-form [type=submit]').click();
	await shownText(page, '#notice');

	const link = await mailedLink(t.env, who.email, '/verify-email', { subject: 'Confirm your email' });
	await page.goto(link);
	await shownText(page, '#notice');
	await page.locator('a#to-login').waitFor({ state: 'visible' });
	assert.ok(!page.url().includes('token='), `the token stays in the address bar: ${page.url()}`);
	if (shots)
		await t.shot(page, 'verify-email');
	await page.locator('a#to-login').click();
	await page.waitForURL((u) => u.pathname === '/login');

	await page.locator('form#login-form #email').fill(who.email);
	await page.locator('form#login-form #password').fill(who.password);
	if (shots)
		await t.shot(page, 'login');
	await page.locator('form#login-form [type=submit]').click();
	await page.waitForURL(APP);
	await until(async () => (await page.locator('#user-menu').textContent()).includes(who.email),
	    '#user-menu showing ' + who.email);
}

async function openSection(page, name) {
	await page.locator(`nav#sections a[data-section="${name}"]`).click();
	await page.waitForURL((u) => u.pathname === '/app/' + name);
	await page.locator(`section#sec-${name}`).waitFor({ state: 'visible' });
	await until(async () => (await page.locator(`section#sec-${name}`).getAttribute('aria-busy')) === null,
	    `section ${name} rendered`);
}

test('register, verify, sign in, create an org, invite and accept, change the role, an API key, sign out', async (t) => {
	const owner = { email: uniqueEmail('owner'), name: 'Olive Owner', password: strongPassword() };
	const invitee = { email: uniqueEmail('invitee'), name: 'Ivan Invitee', password: strongPassword() };
	const slug = uniqueSlug('flow');
	const a = t.page;
	await t.context.grantPermissions(['clipboard-read', 'clipboard-write'],
	    { origin: t.env.PUBLIC_ORIGIN });

	// the owner: register, verify, sign in
	await registerAndSignIn(t, a, owner, true);

	// a new organisation, in the first region offered
	await openSection(a, 'orgs');
	await a.locator('form#org-create-form #org-name').fill('Flow ' + slug);
	await a.locator('form#org-create-form #org-slug').fill(slug);
	const region = a.locator('form#org-create-form select#org-region');
	const firstRegion = await region.locator('option').first().getAttribute('value');
	await region.selectOption(firstRegion);
	// API keys come with the growth plan
	const plan = a.locator('form#org-create-form #org-plan');
	if (await plan.count())
		await plan.selectOption('growth');
	await a.locator('form#org-create-form [type=submit]').click();
	await until(async () => (await a.locator('#org-switcher').inputValue()) === slug,
	    `#org-switcher on the new org ${slug}`);
	await t.shot(a, 'app-orgs');
	const ownerApi = await new Api(t.env).login(owner.email, owner.password);
	const { org } = await ownerApi.get(`/api/v1/orgs/${slug}`);
	assert.equal(org.region, firstRegion);

	// invite the second person
	await openSection(a, 'members');
	await a.locator(`table#member-list tr[data-email="${owner.email}"]`).waitFor();
	await a.locator('form#invite-form #invite-email').fill(invitee.email);
	await a.locator('form#invite-form #invite-role').selectOption('viewer');
	await a.locator('form#invite-form [type=submit]').click();
	await shownText(a, '#notice');
	await a.locator('ul#invitation-list', { hasText: invitee.email }).waitFor();
	await t.shot(a, 'app-members');

	// the invitee, in a browser of their own: register, verify, sign in,
	// then the invitation link
	const inviteLink = await mailedLink(t.env, invitee.email, '/invitations', { subject: 'invited you' });
	const { page: b, context: bctx } = await t.newContext();
	await registerAndSignIn(t, b, invitee, false);
	await b.goto(inviteLink);
	await b.locator('button#invite-accept').waitFor({ state: 'visible' });
	assert.ok(!b.url().includes('token='), `the token stays in the address bar: ${b.url()}`);
	await t.shot(b, 'invitations');
	await b.locator('button#invite-accept').click();
	await b.waitForURL(APP);
	await until(async () => (await b.locator('#org-switcher option').allTextContents()).length > 0 &&
	    (await b.locator(`#org-switcher option[value="${slug}"]`).count()) === 1,
	    `the invitee's #org-switcher listing ${slug}`);

	// back to the owner: the invitee is a member; make them an analyst
	await a.goto(url(t.env, `/app/members?org=${slug}`));
	const row = a.locator(`table#member-list tr[data-email="${invitee.email}"]`);
	await row.waitFor();
	await row.locator('select.member-role').selectOption('analyst');
	await shownText(a, '#notice');
	const { members } = await ownerApi.get(`/api/v1/orgs/${slug}/members`);
	const m = members.find((x) => x.email === invitee.email);
	assert.ok(m, `${invitee.email} is not a member: ${JSON.stringify(members)}`);
	assert.equal(m.role, 'analyst');
	await a.reload();
	await row.waitFor();
	assert.equal(await row.locator('select.member-role').inputValue(), 'analyst');

	// an API key: its secret shown once
	await openSection(a, 'api-keys');
	await a.locator('form#apikey-create-form #apikey-name').fill('flow key');
	await a.locator('form#apikey-create-form #apikey-role').selectOption('viewer');
	await a.locator('form#apikey-create-form [type=submit]').click();
	const secret = await shownText(a, '#apikey-secret');
	assert.match(secret, /^apx_[a-z2-7]{12}_[a-z2-7]{52}$/);
	await a.locator('button#apikey-copy').click();
	const copied = await a.evaluate(() => navigator.clipboard.readText()).catch((e) => 'error: ' + e);
	assert.equal(copied, secret, 'the copy button did not put the key on the clipboard');
	assert.ok(await a.locator('table#apikey-list tr[data-key-id]').count() >= 1);
	// the key works
	const keyApi = new Api(t.env, secret);
	await keyApi.get(`/api/v1/orgs/${slug}/workspaces`);
	await a.reload();
	await a.locator('table#apikey-list tr[data-key-id]').first().waitFor();
	assert.equal(await a.locator('#apikey-secret').count(), 0, 'the secret is shown again after a reload');
	assert.ok(!(await a.content()).includes(secret), 'the secret is in the reloaded page');
	await t.shot(a, 'app-api-keys');

	// sign out: the session cookies are gone and /app sends to /login
	await a.locator('button#signout').click();
	await a.waitForURL((u) => u.pathname === '/login');
	const left = await cookieNames(t.context, t.env);
	assert.ok(!left.includes('__Host-apx_access') && !left.includes('__Host-apx_refresh'),
	    `session cookies left after sign-out: ${left.join(', ')}`);
	await a.goto(url(t.env, '/app'));
	await a.waitForURL((u) => u.pathname === '/login');

	// the invitee is still signed in in their own browser
	assert.ok((await cookieNames(bctx, t.env)).includes('__Host-apx_access'));
});
