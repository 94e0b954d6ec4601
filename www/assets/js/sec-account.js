// /app/account: the person's own account: address, password, sessions,
// linked sign-ins, second factor, their data, closing the account.

import { get, post, del, api, seg, signOut } from './api.js';
import { el, onSubmit, busy, showNotice, fmtTime, download } from './ui.js';
import { head, field, select } from './common.js';

export async function render(ctx, root) {
	head(ctx, root, 'Account', { org: false });
	const me = ctx.me;
	const verify = el('button', { type: 'button', class: 'secondary', id: 'verify-resend', text: 'Send the link again' });
	verify.addEventListener('click', () => busy(verify, async () => {
		await post('/api/v1/me/verify-email');
		showNotice('A new verification link is on its way.');
	}));
	root.append(el('p', {}, el('strong', {}, me.name || ''), ' · ', me.email, ' ',
	    el('span', { class: me.email_verified ? 'badge ok' : 'badge warn' }, me.email_verified ? 'verified' : 'not verified')),
	me.email_verified ? '' : el('div', { class: 'buttons' }, verify));

	const [{ sessions }, ids, mfa] = await Promise.all([
		get('/api/v1/me/sessions'), get('/api/v1/me/identities'), get('/api/v1/me/mfa')]);

	// password
	root.append(el('h2', { text: 'Password' }));
	const pw = el('form', { id: 'password-form', novalidate: true },
	    ids.password ? field('Current password', el('input', { name: 'current_password', type: 'password',
		autocomplete: 'current-password', required: true })) :
		el('p', { class: 'hint', text: 'You sign in through a provider; you may add a password too.' }),
	    field('New password', el('input', { name: 'new_password', type: 'password', autocomplete: 'new-password',
		minlength: 12, required: true }), 'At least 12 characters. Your other sessions are signed out.'),
	    el('button', { type: 'submit', text: ids.password ? 'Change password' : 'Set a password' }));
	onSubmit(pw, async () => {
		const body = { new_password: pw.elements.new_password.value };
		if (pw.elements.current_password)
			body.current_password = pw.elements.current_password.value;
		await post('/api/v1/me/password', body);
		pw.reset();
		showNotice('Password changed.');
	});
	root.append(pw);

	// sessions
	root.append(el('h2', { text: 'Sessions' }));
	const slist = el('ul', { id: 'session-list', class: 'plain' }, ...sessions.map((s) => {
		const end = el('button', { type: 'button', class: 'secondary', text: s.current ? 'This session' : 'Sign out' });
		end.disabled = s.current;
		end.addEventListener('click', () => busy(end, async () => {
			await del('/api/v1/me/sessions/' + seg(s.id));
			li.remove();
			showNotice('That session is signed out.');
		}));
		const li = el('li', { dataset: { sessionId: String(s.id) } },
		    el('span', {}, s.user_agent || 'unknown device'),
		    el('span', { class: 'hint' }, ' · ' + (s.client_addr || '') + ' · since ' + fmtTime(s.created_at) +
			', last ' + fmtTime(s.last_used_at)), ' ', end);
		return li;
	}));
	root.append(slist);

	// linked sign-ins
	root.append(el('h2', { text: 'Linked sign-ins' }));
	const ilist = el('ul', { id: 'identity-list', class: 'plain' }, ...ids.identities.map((i) => {
		const unlink = el('button', { type: 'button', class: 'secondary', text: 'Unlink' });
		unlink.addEventListener('click', () => busy(unlink, async () => {
			await del('/api/v1/me/identities/' + seg(i.id));
			li.remove();
			showNotice('Unlinked.');
		}));
		const li = el('li', { dataset: { provider: i.provider } }, el('strong', {}, i.provider),
		    el('span', { class: 'hint' }, ' · ' + (i.org || i.issuer || '') + ' · last used ' + fmtTime(i.last_used_at)),
		    ' ', unlink);
		return li;
	}));
	if (!ids.identities.length)
		ilist.append(el('li', { class: 'hint', text: 'None: you sign in with your password.' }));
	const providers = [];
	if (ctx.config.sign_in && ctx.config.sign_in.google)
		providers.push(['google', 'Google']);
	if (ctx.config.sign_in && ctx.config.sign_in.microsoft)
		providers.push(['microsoft', 'Microsoft']);
	for (const o of ctx.orgs)
		if (o.plan === 'agency')
			providers.push(['sso:' + o.slug, o.name + ' single sign-on']);
	root.append(ilist);
	if (providers.length) {
		const link = el('form', { id: 'identity-link-form', class: 'row', novalidate: true },
		    field('Link a sign-in', select('provider', providers, providers[0][0])),
		    el('button', { type: 'submit', class: 'secondary', text: 'Link' }));
		onSubmit(link, async (v) => {
			const body = v.provider.startsWith('sso:') ? { provider: 'sso', org: v.provider.slice(4) } : { provider: v.provider };
			const r = await post('/api/v1/me/identities', body);
			location.assign(r.authorize_url);
		});
		root.append(link);
	}

	// second factor
	const mfaBox = el('div', { id: 'mfa-section' });
	root.append(el('h2', { text: 'Second factor' }), mfaBox);
	drawMfa(ctx, mfaBox, mfa);

	// your data, closing the account
	root.append(el('h2', { text: 'Your data' }));
	const exp = el('button', { type: 'button', class: 'secondary', id: 'me-export', text: 'Download my data' });
	exp.addEventListener('click', () => busy(exp, async () => {
		const r = await api('GET', '/api/v1/me/export', undefined, { raw: true });
		download('accupredix-account.json', await r.blob());
	}));
	const close = el('form', { id: 'account-delete-form', novalidate: true },
	    ids.password ? field('Password, to close your account', el('input', { name: 'password', type: 'password',
		autocomplete: 'current-password', required: true })) : '',
	    el('button', { type: 'submit', class: 'danger', text: 'Close my account' }));
	onSubmit(close, async () => {
		if (!window.confirm('Close your account for ever? Your memberships and API keys go with it.'))
			return;
		await del('/api/v1/me', ids.password ? { password: close.elements.password.value } : {});
		await signOut();
		location.assign('/login');
	});
	root.append(el('div', { class: 'buttons' }, exp), close);
}

function drawMfa(ctx, box, mfa) {
	box.replaceChildren();
	if (mfa.enabled) {
		box.append(el('p', {}, 'On since ' + fmtTime(mfa.confirmed_at) + '; ' + mfa.recovery_codes_left + ' recovery codes left.'));
		const regen = el('form', { id: 'mfa-recovery-form', class: 'row', novalidate: true },
		    field('Code from your app', el('input', { name: 'code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', required: true })),
		    el('button', { type: 'submit', class: 'secondary', text: 'New recovery codes' }));
		onSubmit(regen, async (v) => {
			const r = await post('/api/v1/me/mfa/recovery-codes', { code: v.code || '' });
			showCodes(box, r.recovery_codes);
		});
		const off = el('form', { id: 'mfa-disable-form', novalidate: true },
		    field('Password', el('input', { name: 'password', type: 'password', autocomplete: 'current-password' })),
		    field('Code from your app', el('input', { name: 'code', type: 'text', inputmode: 'numeric', required: true })),
		    el('button', { type: 'submit', class: 'danger', text: 'Turn the second factor off' }));
		onSubmit(off, async (v) => {
			await del('/api/v1/me/mfa', { password: off.elements.password.value, code: v.code || '' });
			showNotice('The second factor is off.');
			drawMfa(ctx, box, await get('/api/v1/me/mfa'));
		});
		box.append(regen, off);
		return;
	}
	box.append(el('p', { class: 'hint', text: 'Off. With it on, signing in also asks for a code from an authenticator app.' }));
	const start = el('form', { id: 'mfa-start-form', class: 'row', novalidate: true },
	    field('Password', el('input', { name: 'password', type: 'password', autocomplete: 'current-password' })),
	    el('button', { type: 'submit', text: 'Set up' }));
	onSubmit(start, async () => {
		const r = await post('/api/v1/me/mfa', { password: start.elements.password.value });
		start.replaceWith(confirmForm(ctx, box, r));
	});
	box.append(start);
}

function confirmForm(ctx, box, r) {
	const form = el('form', { id: 'mfa-confirm-form', novalidate: true },
	    el('p', {}, 'Add this key to your authenticator app (or open the link on your phone):'),
	    el('output', { class: 'secret', id: 'mfa-secret' }, r.secret),
	    el('p', {}, el('a', { href: r.otpauth_uri, id: 'mfa-otpauth' }, 'Open in an authenticator app')),
	    field('Then enter the code it shows', el('input', { name: 'code', type: 'text', inputmode: 'numeric',
		autocomplete: 'one-time-code', required: true })),
	    el('button', { type: 'submit', text: 'Turn on' }));
	onSubmit(form, async (v) => {
		const c = await post('/api/v1/me/mfa/confirm', { code: v.code || '' });
		showNotice('The second factor is on.');
		drawMfa(ctx, box, await get('/api/v1/me/mfa'));
		showCodes(box, c.recovery_codes);
	});
	return form;
}

function showCodes(box, codes) {
	const text = codes.join('\n');
	const save = el('button', { type: 'button', class: 'secondary', text: 'Download them' });
	save.addEventListener('click', () => download('accupredix-recovery-codes.txt', new Blob([text + '\n'], { type: 'text/plain' })));
	box.prepend(el('div', { class: 'card', id: 'mfa-recovery-codes' },
	    el('p', {}, 'Your recovery codes, shown once. Keep them somewhere safe: each signs you in once without your phone.'),
	    el('pre', { class: 'secret' }, text), save));
}
