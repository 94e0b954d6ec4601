// /app/privacy (Settings → Privacy): export what the organisation holds
// about people, erase a data subject, erase the whole organisation.

import { post, api } from './api.js';
import { $, el, onSubmit, busy, showNotice, showError } from './ui.js';
import { head, field, orgPath, roleAtLeast } from './common.js';

export async function render(ctx, root) {
	if (!head(ctx, root, 'Privacy', { role: 'admin',
	    intro: 'Answer data-protection requests: export, and erasure.' }))
		return;

	root.append(el('h2', { text: 'Export' }),
	    el('p', { class: 'hint', text: 'Members, invitations, audit entries about them and the personal data of uploads, as one JSON file.' }));
	const start = el('button', { type: 'button', id: 'export-start', text: 'Prepare export' });
	const progress = el('progress', { id: 'export-progress', hidden: true, 'aria-label': 'Export progress' });
	const link = el('a', { id: 'export-download', class: 'button secondary', hidden: true, text: 'Download the export' });
	start.addEventListener('click', () => busy(start, async () => {
		link.hidden = true;
		progress.hidden = false;
		try {
			const r = await api('POST', orgPath(ctx, '/privacy/export'), {}, { raw: true });
			const blob = await r.blob();
			if (link.href)
				URL.revokeObjectURL(link.href);
			link.href = URL.createObjectURL(blob);
			link.download = 'privacy-export-' + ctx.org.slug + '-' + new Date().toISOString().slice(0, 10) + '.json';
			link.hidden = false;
			showNotice('The export is ready (' + Math.ceil(blob.size / 1024) + ' KiB).');
			link.focus();
		} finally {
			progress.hidden = true;
		}
	}));
	root.append(el('div', { class: 'buttons' }, start, link), progress);

	root.append(el('h2', { text: 'Erase a data subject' }),
	    el('p', { class: 'hint', text: 'Deletes every personal field of the upload rows whose column holds this value.' }));
	const subject = el('form', { id: 'erasure-subject-form', class: 'row', novalidate: true },
	    field('Column', el('input', { name: 'column', type: 'text', required: true, placeholder: 'email' })),
	    field('Value', el('input', { name: 'value', type: 'text', required: true, autocomplete: 'off' })),
	    el('button', { type: 'submit', class: 'danger', text: 'Erase' }));
	onSubmit(subject, async (v) => {
		if (!window.confirm('Erase the personal data of ' + v.column + ' = ' + v.value + '? This cannot be undone.'))
			return;
		const r = await post(orgPath(ctx, '/privacy/erasure'), { subject: { column: v.column || '', value: v.value || '' } });
		subject.reset();
		const e = r.erasure.erased || {};
		showNotice('Erased ' + (e.fields || 0) + ' fields in ' + (e.rows || 0) + ' rows of ' + (e.uploads || 0) + ' uploads.');
	});
	root.append(subject);

	root.append(el('h2', { text: 'Erase the organisation' }));
	if (!roleAtLeast(ctx, 'owner')) {
		root.append(el('p', { class: 'hint', text: 'Only an owner can erase the organisation.' }));
		return;
	}
	root.append(el('p', { class: 'hint', text: 'Its database, keys, members and settings are destroyed; the audit log keeps entries without personal data.' }));
	const erase = el('button', { type: 'button', id: 'erasure-start', class: 'danger', text: 'Erase ' + ctx.org.name + '…' });
	const confirmInput = el('input', { id: 'erasure-confirm', name: 'confirm', type: 'text', autocomplete: 'off', required: true });
	const dialog = el('dialog', { id: 'erasure-dialog', 'aria-labelledby': 'erasure-title' },
	    el('form', { method: 'dialog', novalidate: true },
		el('h2', { id: 'erasure-title', text: 'Erase ' + ctx.org.name + '?' }),
		el('p', {}, 'This cannot be undone. Type the short name ', el('code', {}, ctx.org.slug), ' to confirm.'),
		field('Short name', confirmInput),
		el('progress', { id: 'erasure-progress', hidden: true, 'aria-label': 'Erasure progress' }),
		el('div', { class: 'buttons' },
		    el('button', { type: 'submit', value: 'erase', class: 'danger', id: 'erasure-confirm-button', text: 'Erase for ever' }),
		    el('button', { type: 'submit', value: 'cancel', class: 'secondary', text: 'Cancel', formnovalidate: true }))));
	dialog.addEventListener('close', async () => {
		if (dialog.returnValue !== 'erase')
			return;
		const p = $('#erasure-progress', dialog);
		try {
			p.hidden = false;
			dialog.showModal();
			await post(orgPath(ctx, '/privacy/erasure'), { scope: 'org', confirm: confirmInput.value.trim() });
			dialog.close('done');
			await ctx.reloadOrgs();
			await ctx.show('orgs');
			showNotice('The organisation was erased.');
		} catch (e) {
			dialog.close('failed');
			showError(e);
		} finally {
			p.hidden = true;
		}
	});
	erase.addEventListener('click', () => {
		confirmInput.value = '';
		dialog.returnValue = '';
		dialog.showModal();
		confirmInput.focus();
	});
	root.append(el('div', { class: 'buttons' }, erase), dialog);
}
