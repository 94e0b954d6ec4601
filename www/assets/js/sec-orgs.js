// /app/orgs: the person's organisations, a new one (with its region), and
// the selected one's name and settings.

import { get, post, patch, del } from './api.js';
import { el, onSubmit, showError, showNotice, fmtTime } from './ui.js';
import { head, field, select, table, orgPath, roleAtLeast, PLAN_LIST } from './common.js';

export async function render(ctx, root) {
	head(ctx, root, 'Organisations', { org: false });
	root.append(table(['Name', 'Short name', 'Plan', 'Region', 'Your role'],
	    ctx.orgs.map((o) => [o.name, o.slug, o.plan, o.region, o.role])));

	root.append(el('h2', { text: 'New organisation' }));
	if (!ctx.me.email_verified)
		root.append(el('p', { class: 'hint', text: 'Verify your email address first (Account).' }));
	const regions = (ctx.config.regions && ctx.config.regions.length) ? ctx.config.regions : ['eu'];
	const form = el('form', { id: 'org-create-form', novalidate: true },
	    el('div', { class: 'row' },
		field('Name', el('input', { id: 'org-name', name: 'name', type: 'text', maxlength: 200, required: true })),
		field('Short name', el('input', { id: 'org-slug', name: 'slug', type: 'text', maxlength: 41,
		    pattern: '[a-z0-9][a-z0-9_]{1,40}', required: true }),
		    'Lower-case letters, digits and _; part of addresses, cannot change.'),
		field('Data region', select('region', regions, regions[0], { id: 'org-region' }),
		    'Where its database lives.'),
		field('Plan', select('plan', PLAN_LIST, 'free', { id: 'org-plan' }))),
	    el('button', { type: 'submit', text: 'Create organisation' }));
	const name = form.querySelector('#org-name');
	const slug = form.querySelector('#org-slug');
	name.addEventListener('input', () => {
		if (!slug.dataset.touched)
			slug.value = name.value.toLowerCase().replace(/[^a-z0-9]+/g, '_')
			    .replace(/^_+|_+$/g, '').slice(0, 41);
	});
	slug.addEventListener('input', () => { slug.dataset.touched = '1'; });
	onSubmit(form, async (v) => {
		const r = await post('/api/v1/orgs', { name: v.name || '', slug: v.slug || '', region: v.region, plan: v.plan });
		await ctx.reloadOrgs(r.org.slug);
		showNotice('Created ' + r.org.name + '.');
		await ctx.show('orgs');
	});
	root.append(form);

	if (!ctx.org)
		return;
	root.append(el('h2', { text: ctx.org.name }));
	if (!roleAtLeast(ctx, 'admin')) {
		root.append(el('p', { class: 'hint', text: 'Your role: ' + ctx.org.role + '.' }),
		    leaveButton(ctx));
		return;
	}
	const [{ org }, { settings }] = await Promise.all([
		get(orgPath(ctx)), get(orgPath(ctx, '/settings'))]);
	root.append(el('p', { class: 'hint', text: 'Created ' + fmtTime(org.created_at) + ', plan ' +
	    org.plan + ', region ' + org.region + '.' }));
	const rename = el('form', { id: 'org-rename-form', novalidate: true },
	    field('Name', el('input', { name: 'name', type: 'text', maxlength: 200, value: org.name, required: true })),
	    el('button', { type: 'submit', text: 'Rename' }));
	onSubmit(rename, async (v) => {
		await patch(orgPath(ctx), { name: v.name || '' });
		await ctx.reloadOrgs(ctx.org.slug);
		showNotice('Renamed.');
	});
	const mfa = el('input', { name: 'require_mfa', type: 'checkbox' });
	mfa.checked = !!settings.require_mfa;
	const sform = el('form', { id: 'org-settings-form', novalidate: true },
	    el('h3', { text: 'Settings' }),
	    field('Members need a second factor (or this organisation\'s SSO)', mfa),
	    el('div', { class: 'row' },
		field('API keys: rotate after (days)', el('input', { name: 'api_key_max_age_days', type: 'number',
		    min: 1, max: 3650, value: settings.api_key_max_age_days })),
		field('Old key works after rotation for (seconds)', el('input', {
		    name: 'api_key_rotation_grace_seconds', type: 'number', min: 0, max: 604800,
		    value: settings.api_key_rotation_grace_seconds }))),
	    el('button', { type: 'submit', text: 'Save settings' }));
	onSubmit(sform, async (v) => {
		await patch(orgPath(ctx, '/settings'), {
			require_mfa: mfa.checked ? 1 : 0,
			api_key_max_age_days: Number(v.api_key_max_age_days),
			api_key_rotation_grace_seconds: Number(v.api_key_rotation_grace_seconds),
		});
		showNotice('Settings saved.');
	});
	root.append(rename, sform, leaveButton(ctx));
}

function leaveButton(ctx) {
	const b = el('button', { type: 'button', class: 'secondary', id: 'org-leave', text: 'Leave ' + ctx.org.name });
	b.addEventListener('click', async () => {
		if (!window.confirm('Leave ' + ctx.org.name + '? You lose access at once.'))
			return;
		try {
			await del(orgPath(ctx, '/membership'));
			await ctx.reloadOrgs();
			await ctx.show('orgs');
			showNotice('You left the organisation.');
		} catch (e) {
			showError(e);
		}
	});
	return el('div', { class: 'buttons' }, b);
}
