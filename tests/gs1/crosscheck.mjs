// crosscheck.mjs - runs every URI of tests/gs1/uris.txt through digital-link.js
// (npm; an independent implementation of the GS1 Digital Link URI syntax) and
// through idnode's parser (`idnode gs1 parse -`), and compares: valid or not,
// and for valid ones the primary key, key qualifiers and data attributes.
// A case whose note says "dljs: ..." is one where digital-link.js departs
// from the standard: there it must disagree (so the note stays true), and
// idnode must still meet the table's expectation.
//
//   node crosscheck.mjs IDNODE [uris.txt]
// Prints one line per case and a last line "N passed, N failed"; exits 1 on
// any failure.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { DigitalLink } = require('digital-link.js');

const here = dirname(fileURLToPath(import.meta.url));
const idnode = process.argv[2];
const table = process.argv[3] || join(here, 'uris.txt');
if (!idnode) {
  console.error('usage: node crosscheck.mjs IDNODE [uris.txt]');
  process.exit(2);
}

const cases = readFileSync(table, 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [outcome, uri, expect, note] = l.split('\t');
    return { outcome, uri, expect, note: note || '' };
  });

// idnode: one process for the whole table, one JSON line per URI.
const out = execFileSync(idnode, ['gs1', 'parse', '-'], {
  input: cases.map((c) => c.uri).join('\n') + '\n',
  encoding: 'utf8',
  timeout: 30000,
});
const ours = out.trim().split('\n').map((l) => JSON.parse(l));
if (ours.length !== cases.length) {
  console.error(`idnode answered ${ours.length} lines for ${cases.length} URIs`);
  process.exit(1);
}

// digital-link.js: valid or not, and its elements (values percent-decoded:
// it keeps them as written).
function theirs(uri) {
  // idnode also takes a bare path (as a request line carries it);
  // digital-link.js needs the whole URI.
  if (uri.startsWith('/')) uri = 'https://example.com' + uri;
  try {
    const dl = DigitalLink(uri);
    if (!dl.isValid()) return { ok: false };
    const dec = (v) => decodeURIComponent(v);
    const elems = {};
    for (const [k, v] of Object.entries(dl.getIdentifier())) elems[k] = dec(v);
    for (const [k, v] of Object.entries(dl.getKeyQualifiers())) elems[k] = dec(v);
    for (const [k, v] of Object.entries(dl.getAttributes())) if (/^\d+$/.test(k)) elems[k] = dec(v);
    return { ok: true, elems };
  } catch (e) {
    return { ok: false, error: String(e.message || e) };
  }
}

function ourElems(dl) {
  const elems = {};
  for (const e of [dl.key, ...dl.qualifiers, ...dl.attributes]) elems[e.ai] = e.value;
  return elems;
}

const same = (a, b) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

let passed = 0;
let failed = 0;
for (let i = 0; i < cases.length; i++) {
  const c = cases[i];
  const o = ours[i];
  const t = theirs(c.uri);
  const expectDiff = /\bdljs:/.test(c.note);
  let agree = o.ok === t.ok;
  if (agree && o.ok) agree = same(ourElems(o.dl), t.elems);
  const meetsTable = (c.outcome === 'ok') === o.ok;
  let verdict;
  if (!meetsTable) verdict = `FAIL idnode says ${o.ok ? 'valid' : 'invalid: ' + o.error}, table says ${c.outcome}`;
  else if (agree && expectDiff) verdict = 'FAIL digital-link.js agrees, but the note says it differs: update the note';
  else if (!agree && !expectDiff)
    verdict = `FAIL disagreement: idnode ${o.ok ? 'valid ' + JSON.stringify(ourElems(o.dl)) : 'invalid (' + o.error + ')'}, digital-link.js ${t.ok ? 'valid ' + JSON.stringify(t.elems) : 'invalid' + (t.error ? ' (' + t.error + ')' : '')}`;
  else verdict = expectDiff ? 'ok (known difference, see note)' : 'ok';
  if (verdict.startsWith('FAIL')) failed++;
  else passed++;
  console.log(`${verdict}: ${c.uri}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
