// node tests/browser/runner.mjs STACK_ENV [FILTER...]: runs every
// tests/browser/test_*.mjs (or those whose file or test name contains a
// FILTER) against the stack; one line per test, last "N passed, M failed".
// Exit status 1 when a test failed (2 on a usage or set-up error).

import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readStackEnv } from './lib/stack.mjs';
import { registered, run, setCurrentFile } from './lib/harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const [stackEnv, ...filters] = process.argv.slice(2);
if (!stackEnv) {
	console.error('usage: tests/browser/run STACK_ENV [FILTER...]');
	process.exit(2);
}

const env = readStackEnv(stackEnv);
const files = readdirSync(here).filter((f) => /^test_.*\.mjs$/.test(f)).sort();
for (const f of files) {
	setCurrentFile(f);
	await import(pathToFileURL(join(here, f)).href);
}
const tests = registered().filter((tc) => !filters.length ||
    filters.some((x) => tc.file.includes(x) || tc.name.includes(x)));
if (!tests.length) {
	console.error(`browser: no test matches ${filters.join(' ')}`);
	console.log('0 passed, 1 failed');
	process.exit(1);
}
console.log(`browser: ${tests.length} tests against ${env.PUBLIC_ORIGIN} (Chromium, headless)`);
const failed = await run(env, tests);
process.exit(failed ? 1 : 0);
