// The mails a stack sent: its SMTP server (python3-aiosmtpd's Mailbox
// handler, started by scripts/stack) writes each as a file under
// MAIL_DIR/new (tests/integration/mailhelp.py reads the same).  A small
// MIME reader: headers with RFC 2047 words, multipart bodies, base64 and
// quoted-printable parts.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function decodeWords(v) {
	// adjacent encoded words are joined without the space between them
	return v.replace(/\?=\s+=\?/g, '?==?').replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g,
	    (_, charset, enc, text) => {
		const buf = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') :
		    qp(text.replace(/_/g, ' '));
		return new TextDecoder(charset.toLowerCase()).decode(buf);
	});
}

function qp(s) {
	const bytes = [];
	const src = Buffer.from(s.replace(/=\r?\n/g, ''), 'latin1');
	for (let i = 0; i < src.length; i++) {
		if (src[i] === 0x3d && i + 2 < src.length) {
			const h = src.toString('latin1', i + 1, i + 3);
			if (/^[0-9A-Fa-f]{2}$/.test(h)) {
				bytes.push(parseInt(h, 16));
				i += 2;
				continue;
			}
		}
		bytes.push(src[i]);
	}
	return Buffer.from(bytes);
}

function splitMessage(raw) {
	const m = /\r?\n\r?\n/.exec(raw);
	const head = m ? raw.slice(0, m.index) : raw;
	const body = m ? raw.slice(m.index + m[0].length) : '';
	const headers = {};
	for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
		const i = line.indexOf(':');
		if (i > 0)
			headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
	}
	return { headers, body };
}

function param(header, name) {
	const m = new RegExp(';\\s*' + name + '="?([^";]+)"?', 'i').exec(header || '');
	return m ? m[1] : null;
}

// Every leaf part as {type, text}.
function leaves(raw) {
	const { headers, body } = splitMessage(raw);
	const ctype = headers['content-type'] || 'text/plain';
	const type = ctype.split(';')[0].trim().toLowerCase();
	if (type.startsWith('multipart/')) {
		const b = param(ctype, 'boundary');
		if (!b)
			return [];
		const out = [];
		const parts = body.split('--' + b);
		for (const p of parts.slice(1)) {
			if (p.startsWith('--'))
				break;
			out.push(...leaves(p.replace(/^\r?\n/, '')));
		}
		return out;
	}
	const cte = (headers['content-transfer-encoding'] || '7bit').toLowerCase();
	let buf;
	if (cte === 'base64')
		buf = Buffer.from(body.replace(/\s+/g, ''), 'base64');
	else if (cte === 'quoted-printable')
		buf = qp(body);
	else
		buf = Buffer.from(body, 'latin1');
	const charset = (param(ctype, 'charset') || 'utf-8').toLowerCase();
	return [{ type, text: new TextDecoder(charset).decode(buf) }];
}

export function parseMail(raw) {
	const { headers } = splitMessage(raw);
	const parts = leaves(raw);
	const text = parts.find((p) => p.type === 'text/plain');
	const html = parts.find((p) => p.type === 'text/html');
	return {
		to: decodeWords(headers.to || ''),
		rcpt: headers['x-rcptto'] || '',
		subject: decodeWords(headers.subject || ''),
		text: text ? text.text : '',
		html: html ? html.text : '',
	};
}

// Every mail so far, oldest first.
export function allMails(env) {
	if (!env.MAIL_DIR)
		throw new Error('the stack has no SMTP server (no MAIL_DIR in stack.env)');
	const d = join(env.MAIL_DIR, 'new');
	let names;
	try {
		names = readdirSync(d);
	} catch (e) {
		return [];
	}
	return names.map((n) => ({ path: join(d, n), mtime: statSync(join(d, n)).mtimeMs }))
	    .sort((a, b) => a.mtime - b.mtime || (a.path < b.path ? -1 : 1))
	    .map((f) => ({ path: f.path, ...parseMail(readFileSync(f.path, 'latin1')) }));
}

export function mailsTo(env, addr, subject) {
	const a = addr.toLowerCase();
	return allMails(env).filter((m) =>
	    (m.to.toLowerCase().includes(a) || m.rcpt.toLowerCase().includes(a)) &&
	    (!subject || m.subject.toLowerCase().includes(subject.toLowerCase())));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The COUNT-th mail to ADDR (subject containing SUBJECT), waiting for the
// stack's mail sender to deliver it; the guard timeout is generous.
export async function waitMail(env, addr, { subject, count = 1, timeout = 60000 } = {}) {
	const deadline = Date.now() + timeout;
	for (;;) {
		const got = mailsTo(env, addr, subject);
		if (got.length >= count)
			return got[count - 1];
		if (Date.now() > deadline)
			throw new Error(`no mail #${count} to ${addr}` +
			    (subject ? ` about "${subject}"` : '') + ` (mails to it: ` +
			    JSON.stringify(mailsTo(env, addr).map((m) => m.subject)) + ')');
		await sleep(200);
	}
}

// The full link to PAGE (e.g. "/verify-email") in MAIL's text part.
export function mailLink(mail, page) {
	const re = new RegExp('https?://[^\\s<>"]+' + page.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') +
	    '(?:[?#][^\\s<>"]*)?');
	const m = re.exec(mail.text);
	if (!m)
		throw new Error(`no ${page} link in the mail "${mail.subject}":\n${mail.text}`);
	return m[0];
}
