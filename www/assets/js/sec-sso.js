// /app/sso: the organisation's verified domains (a DNS TXT record proves
// each) and its own identity provider, OpenID Connect or SAML 2.0.

import { get, post, put, del, seg, ApiError } from './api.js';
import { el, onSubmit, busy, showNotice, fmtTime } from './ui.js';
import { head, field, select, orgPath, ROLE_LIST } from './common.js';

export async function render(ctx, root) {
	if (!head(ctx, root, 'Single sign-on', { role: 'admin', plan: 'agency',
	    intro: 'Sign your people in with your own identity provider, for the email domains you verify.' }))
		return;
	root.append(el('h2', { text: 'Verified domains' }));
	const list = el('ul', { id: 'domain-list', class: 'plain' });
	const add = el('form', { id: 'domain-add-form', class: 'row', novalidate: true },
	    field('Domain', el('input', { id: 'domain-name', name: 'domain', type: 'text', required: true,
		placeholder: 'example.com' })),
	    el('button', { type: 'submit', text: 'Add domain' }));
	onSubmit(add, async (v) => {
		await post(orgPath(ctx, '/domains'), { domain: v.domain || '' });
		add.reset();
		showNotice('Added. Publish the TXT record shown, then press Verify.');
		await domains(ctx, list);
	});
	root.append(add, list);
	await domains(ctx, list);

	root.append(el('h2', { text: 'Identity provider' }));
	let sso = null;
	try {
		sso = await get(orgPath(ctx, '/sso'));
	} catch (e) {
		if (!(e instanceof ApiError) || e.status !== 404)
			throw e;
	}
	const proto = select('protocol', [['oidc', 'OpenID Connect'], ['saml', 'SAML 2.0']],
	    (sso && sso.protocol) || 'oidc', { id: 'sso-protocol' });
	const box = el('div');
	const draw = () => box.replaceChildren(proto.value === 'saml' ? samlForm(ctx, sso) : oidcForm(ctx, sso));
	proto.addEventListener('change', draw);
	root.append(field('Protocol', proto), box);
	draw();
	if (sso && sso.protocol) {
		const remove = el('button', { type: 'button', class: 'danger', id: 'sso-delete', text: 'Remove single sign-on' });
		remove.addEventListener('click', () => {
			if (!window.confirm('Remove the identity provider? Its sign-in stops at once.'))
				return;
			busy(remove, async () => {
				await del(orgPath(ctx, '/sso'));
				showNotice('Single sign-on removed.');
				await ctx.show('sso', false);
			});
		});
		root.append(el('div', { class: 'buttons' }, remove));
	}
}

async function domains(ctx, list) {
	const { domains: ds } = await get(orgPath(ctx, '/domains'));
	list.replaceChildren(...ds.map((d) => {
		const verify = el('button', { type: 'button', class: 'secondary', text: 'Verify' });
		const remove = el('button', { type: 'button', class: 'secondary', text: 'Remove' });
		verify.hidden = d.verified;
		verify.addEventListener('click', () => busy(verify, async () => {
			await post(orgPath(ctx, '/domains/' + seg(d.id) + '/verify'));
			showNotice(d.domain + ' is verified.');
			await domains(ctx, list);
		}));
		remove.addEventListener('click', () => busy(remove, async () => {
			await del(orgPath(ctx, '/domains/' + seg(d.id)));
			await domains(ctx, list);
		}));
		return el('li', { dataset: { domain: d.domain } },
		    el('strong', {}, d.domain), ' ',
		    el('span', { class: d.verified ? 'badge ok' : 'badge warn' }, d.verified ? 'verified' : 'not verified'),
		    d.verified ? '' : el('p', { class: 'hint' }, 'Publish a TXT record ', el('code', {}, d.txt_name),
			' with the value ', el('code', {}, d.txt_value),
			d.last_error ? ' (last check ' + fmtTime(d.checked_at) + ': ' + d.last_error + ')' : ''),
		    el('div', { class: 'buttons' }, verify, remove));
	}));
	if (!ds.length)
		list.append(el('li', { class: 'hint', text: 'No domain yet.' }));
}

function common(sso) {
	const jit = el('input', { name: 'jit', type: 'checkbox' });
	const enforce = el('input', { name: 'enforce', type: 'checkbox' });
	const enabled = el('input', { name: 'enabled', type: 'checkbox' });
	jit.checked = !!(sso && sso.jit);
	enforce.checked = !!(sso && sso.enforce);
	enabled.checked = !sso || sso.enabled !== false;
	return {
		nodes: [
			field('On', enabled),
			field('Add people of verified domains on first sign-in', jit),
			field('Their role', select('default_role', ROLE_LIST.filter((r) => r !== 'owner'),
			    (sso && sso.default_role) || 'viewer')),
			field('Require it (no password sign-in for these domains, owners excepted)', enforce),
		],
		values: () => ({ jit: jit.checked, enforce: enforce.checked, enabled: enabled.checked }),
	};
}

function oidcForm(ctx, sso) {
	const cur = sso && sso.protocol === 'oidc' ? sso : null;
	const c = common(cur);
	const form = el('form', { id: 'sso-oidc-form', novalidate: true },
	    field('Issuer', el('input', { name: 'issuer', type: 'url', required: true, value: cur ? cur.issuer : '' })),
	    field('Client ID', el('input', { name: 'client_id', type: 'text', required: true, value: cur ? cur.client_id : '' })),
	    field('Client secret', el('input', { name: 'client_secret', type: 'password', autocomplete: 'off' }),
		cur && cur.client_secret === 'set' ? 'Set; leave empty to keep it.' : 'Required.'),
	    ...c.nodes,
	    cur && cur.redirect_uri ? el('p', { class: 'hint' }, 'Redirect URI to register: ', el('code', {}, cur.redirect_uri)) : '',
	    el('button', { type: 'submit', text: 'Save' }));
	onSubmit(form, async (v) => {
		const body = Object.assign({ issuer: v.issuer || '', client_id: v.client_id || '' }, c.values(),
		    { default_role: v.default_role });
		if (v.client_secret)
			body.client_secret = v.client_secret;
		await put(orgPath(ctx, '/sso'), body);
		showNotice('Saved.');
		await ctx.show('sso', false);
	});
	return form;
}

function samlForm(ctx, sso) {
	const cur = sso && sso.protocol === 'saml' ? sso : null;
	const c = common(cur);
	const form = el('form', { id: 'sso-saml-form', novalidate: true },
	    cur ? el('p', { class: 'hint' }, 'Register at your IdP: entity ID ', el('code', {}, cur.sp_entity_id || ''),
		', ACS URL ', el('code', {}, cur.acs_url || '')) : '',
	    field('IdP metadata (XML), or the three fields below', el('textarea', { name: 'idp_metadata', rows: 4, spellcheck: 'false' })),
	    field('IdP entity ID', el('input', { name: 'idp_entity_id', type: 'text', value: cur ? cur.idp_entity_id || '' : '' })),
	    field('IdP sign-in URL', el('input', { name: 'idp_sso_url', type: 'url', value: cur ? cur.idp_sso_url || '' : '' })),
	    field('IdP signing certificate (PEM)', el('textarea', { name: 'idp_certificate', rows: 4, spellcheck: 'false' })),
	    ...c.nodes,
	    el('button', { type: 'submit', text: 'Save' }));
	onSubmit(form, async (v) => {
		const body = Object.assign({ protocol: 'saml' }, c.values(), { default_role: v.default_role });
		if (v.idp_metadata) {
			body.idp_metadata = v.idp_metadata;
		} else {
			body.idp_entity_id = v.idp_entity_id || '';
			body.idp_sso_url = v.idp_sso_url || '';
			body.idp_certificates = v.idp_certificate ? [v.idp_certificate] : [];
		}
		await put(orgPath(ctx, '/sso'), body);
		showNotice('Saved.');
		await ctx.show('sso', false);
	});
	return form;
}
