// /app/members: who is in the organisation, their roles, invitations.

import { get, post, patch, del, seg } from './api.js';
import { el, onSubmit, busy, showNotice, fmtTime, fmtDate } from './ui.js';
import { head, field, table, orgPath, roleAtLeast, roleSelect } from './common.js';

export async function render(ctx, root) {
	if (!head(ctx, root, 'Members'))
		return;
	const admin = roleAtLeast(ctx, 'admin');
	const { members } = await get(orgPath(ctx, '/members'));
	const rows = members.map((m) => {
		const self = m.user_id === ctx.me.id;
		const role = roleSelect(ctx, 'role', m.role, {
			class: 'member-role', 'aria-label': 'Role of ' + m.email,
			disabled: !admin || self || undefined,
		});
		if (![...role.options].some((o) => o.value === m.role)) {
			// a role above the caller's own: shown, not changeable
			role.append(el('option', { value: m.role, text: m.role, selected: true }));
			role.disabled = true;
		}
		role.addEventListener('change', () => busy(role, async () => {
			await patch(orgPath(ctx, '/members/' + seg(m.user_id)), { role: role.value });
			showNotice(m.email + ' is now ' + role.value + '.');
		}));
		const remove = el('button', { type: 'button', class: 'secondary member-remove', text: 'Remove' });
		remove.hidden = !admin || self;
		remove.addEventListener('click', () => {
			if (!window.confirm('Remove ' + m.email + ' from ' + ctx.org.name + '?'))
				return;
			busy(remove, async () => {
				await del(orgPath(ctx, '/members/' + seg(m.user_id)));
				tr.remove();
				showNotice(m.email + ' was removed.');
			});
		});
		const tr = el('tr', { dataset: { email: m.email, userId: String(m.user_id) } },
		    el('td', {}, m.name || ''), el('td', {}, m.email), el('td', {}, role),
		    el('td', {}, fmtDate(m.joined_at)), el('td', {}, remove));
		return tr;
	});
	root.append(table(['Name', 'Email', 'Role', 'Joined', ''], rows, { id: 'member-list' }));

	if (!admin)
		return;
	root.append(el('h2', { text: 'Invite someone' }));
	const form = el('form', { id: 'invite-form', novalidate: true },
	    el('div', { class: 'row' },
		field('Email', el('input', { id: 'invite-email', name: 'email', type: 'email', required: true })),
		field('Role', roleSelect(ctx, 'role', 'viewer', { id: 'invite-role' }))),
	    el('button', { type: 'submit', text: 'Send invitation' }));
	onSubmit(form, async (v) => {
		await post(orgPath(ctx, '/invitations'), { email: v.email || '', role: v.role });
		form.reset();
		showNotice('Invitation sent to ' + v.email + '.');
		await listInvitations(ctx, list);
	});
	const list = el('ul', { id: 'invitation-list', class: 'plain' });
	root.append(form, el('h2', { text: 'Open invitations' }), list);
	await listInvitations(ctx, list);
}

async function listInvitations(ctx, list) {
	const { invitations } = await get(orgPath(ctx, '/invitations'));
	list.replaceChildren(...invitations.map((i) => {
		const resend = el('button', { type: 'button', class: 'secondary', text: 'Send again' });
		const revoke = el('button', { type: 'button', class: 'secondary', text: 'Revoke' });
		resend.addEventListener('click', () => busy(resend, async () => {
			await post(orgPath(ctx, '/invitations/' + seg(i.id) + '/resend'));
			showNotice('Sent again to ' + i.email + '; the earlier link no longer works.');
			await listInvitations(ctx, list);
		}));
		revoke.addEventListener('click', () => busy(revoke, async () => {
			await del(orgPath(ctx, '/invitations/' + seg(i.id)));
			showNotice('Invitation to ' + i.email + ' revoked.');
			await listInvitations(ctx, list);
		}));
		return el('li', { dataset: { email: i.email } },
		    el('strong', {}, i.email), ' as ', i.role,
		    el('span', { class: 'hint' }, ' · expires ' + fmtTime(i.expires_at) +
		        (i.mailed_at ? ' · mailed ' + i.mail_count + '×' : ' · not mailed yet')),
		    el('div', { class: 'buttons' }, resend, revoke));
	}));
	if (!invitations.length)
		list.append(el('li', { class: 'hint', text: 'None.' }));
}
