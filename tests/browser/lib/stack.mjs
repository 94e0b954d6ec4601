// The stack a run drives: the KEY='value' lines scripts/stack writes to
// stack.env (shell quoting: '…' literal, "…" with \-escapes, bare words,
// and their concatenations such as 'it'\''s').

import { readFileSync } from 'node:fs';

function unquote(s) {
	let out = '';
	let i = 0;
	while (i < s.length) {
		const c = s[i];
		if (c === "'") {
			const j = s.indexOf("'", i + 1);
			if (j < 0)
				throw new Error('unterminated quote');
			out += s.slice(i + 1, j);
			i = j + 1;
		} else if (c === '"') {
			i++;
			while (i < s.length && s[i] !== '"') {
				if (s[i] === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1]))
					i++;
				out += s[i++];
			}
			if (s[i] !== '"')
				throw new Error('unterminated quote');
			i++;
		} else if (c === '\\' && i + 1 < s.length) {
			out += s[i + 1];
			i += 2;
		} else if (c === ' ' || c === '\t' || c === '#') {
			break;
		} else {
			out += c;
			i++;
		}
	}
	return out;
}

export function readStackEnv(path) {
	const env = {};
	for (const raw of readFileSync(path, 'utf8').split('\n')) {
		let line = raw.trim();
		if (!line || line.startsWith('#'))
			continue;
		if (line.startsWith('export '))
			line = line.slice(7).trimStart();
		const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
		if (!m)
			continue;
		try {
			env[m[1]] = unquote(m[2]);
		} catch (e) {
			throw new Error(`${path}: ${m[1]}: ${e.message}`);
		}
	}
	for (const k of ['BASE_URL'])
		if (!env[k])
			throw new Error(`${path}: no ${k}`);
	env.PUBLIC_ORIGIN = (env.PUBLIC_ORIGIN || env.BASE_URL).replace(/\/+$/, '');
	env.BASE_URL = env.BASE_URL.replace(/\/+$/, '');
	return env;
}
