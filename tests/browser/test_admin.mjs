// /admin: the platform operator views the app as another user; the
// read-only banner is shown and a save is refused.

import { test } from './lib/harness.mjs';
import { assert, expectError, newAccount, newOrg, until, url } from './lib/helpers.mjs';

// The stack's platform operator signs in on /login and lands on PATH.
async function operatorSignIn(t, path) {
	const { page } = t;
	await page.goto(url(t.env, '/login?return_to=' + path));
	await page.locator('form#login-form #email').fill(t.env.ADMIN_EMAIL);
	await page.locator('form#login-form #password').fill(t.env.ADMIN_PASSWORD);
	await page.locator('form#login-form [type=submit]').click();
	await page.waitForURL((u) => u.pathname === path);
}

test('admin: impersonation shows the banner and refuses a save', async (t) => {
	assert.ok(t.env.ADMIN_EMAIL && t.env.ADMIN_PASSWORD, 'stack.env has no ADMIN_EMAIL/ADMIN_PASSWORD');
	const target = await newAccount(t.env, 'viewed');
	const { slug, api } = await newOrg(t.env, target, 'viewed');
	const { page } = t;
	// the reason the console asks for
	page.on('dialog', (d) => d.accept('browser test: support ticket'));

	await operatorSignIn(t, '/admin/users');
	const sec = page.locator('section#sec-users');
	await sec.waitFor({ state: 'visible' });
	await sec.locator('input[name=q]').fill(target.email);
	await sec.locator('button[type=submit]').click();
	const row = sec.locator(`tr[data-email="${target.email}"]`);
	await row.waitFor();
	await t.shot(page, 'admin-users');
	await row.locator('button.impersonate').click();

	await page.waitForURL((u) => u.pathname.startsWith('/app'));
	await page.locator('#impersonation-banner').waitFor({ state: 'visible' });
	await until(async () => ((await page.locator('#user-menu').textContent()) || '').trim() === target.email,
	    `#user-menu showing ${target.email}`);
	await t.shot(page, 'app-impersonating');

	// every /app page shows the banner
	await page.goto(url(t.env, `/app/members?org=${slug}`));
	await page.locator('#impersonation-banner').waitFor({ state: 'visible' });
	await page.goto(url(t.env, `/app/orgs?org=${slug}`));
	await page.locator('#impersonation-banner').waitFor({ state: 'visible' });

	// a save: a new organisation
	const sec2 = page.locator('section#sec-orgs');
	await sec2.locator('form#org-create-form').waitFor();
	await sec2.locator('#org-name').fill('Should not exist');
	await sec2.locator('#org-slug').fill(slug + '_x');
	await sec2.locator('form#org-create-form [type=submit]').click();
	await expectError(page, 'impersonation-read-only');
	const { orgs } = await api.get('/api/v1/orgs');
	assert.ok(!orgs.some((o) => o.slug === slug + '_x'), 'the save went through while impersonating');

	// End: back to the console as the operator; /app is the operator's own again
	await page.locator('#impersonation-end').click();
	await page.waitForURL((u) => u.pathname.startsWith('/admin'));
	await page.goto(url(t.env, '/app'));
	await until(async () => ((await page.locator('#user-menu').textContent()) || '').trim() === t.env.ADMIN_EMAIL,
	    `#user-menu showing ${t.env.ADMIN_EMAIL}`);
	assert.equal(await page.locator('#impersonation-banner').isVisible(), false);
});

test('admin: the compliance sheet adds, highlights an overdue review, edits and deletes', async (t) => {
	assert.ok(t.env.ADMIN_EMAIL && t.env.ADMIN_PASSWORD, 'stack.env has no ADMIN_EMAIL/ADMIN_PASSWORD');
	const { page } = t;
	page.on('dialog', (d) => d.accept());
	await operatorSignIn(t, '/admin/compliance');
	const sec = page.locator('section#sec-compliance');
	await sec.locator('#compliance-list').waitFor();

	const name = 'Browser subprocessor ' + Date.now();
	const form = sec.locator('form.compliance-form').last();
	await form.locator('[name=kind]').selectOption('subprocessor');
	await form.locator('[name=name]').fill(name);
	await form.locator('[name=purpose]').fill('Sends the mail');
	await form.locator('[name=data_categories]').fill('email address, name');
	await form.locator('[name=region]').fill('eu');
	await form.locator('[name=dpa_signed]').fill('2024-01-15');
	await form.locator('[name=review_due]').fill('2025-01-15');	// in the past
	await form.locator('[name=document_url]').fill('https://docs.example.test/dpa.pdf');
	await form.locator('[type=submit]').click();

	const row = sec.locator('#compliance-list tr', { hasText: name });
	await row.waitFor();
	assert.match((await row.getAttribute('class')) || '', /\boverdue\b/, 'a past review date is highlighted');
	assert.match(await row.textContent(), /email address, name/);
	await t.shot(page, 'admin-compliance');

	// edit: a review date in the future clears the highlight
	await row.locator('button', { hasText: 'Edit' }).click();
	const edit = sec.locator('form.compliance-form').first();
	await edit.locator('[name=review_due]').fill('2099-01-15');
	await edit.locator('[type=submit]').click();
	await until(async () => !/\boverdue\b/.test((await sec.locator('#compliance-list tr', { hasText: name })
	    .getAttribute('class')) || ''), 'the row no longer overdue');

	// delete
	await sec.locator('#compliance-list tr', { hasText: name }).locator('button', { hasText: 'Delete' }).click();
	await until(async () => (await sec.locator('#compliance-list tr', { hasText: name }).count()) === 0,
	    'the row gone');
});
