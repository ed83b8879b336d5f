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
const { DigitalLink, Utils } = require('digital-link.js');

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

// idnode: one process for a list of URIs, one JSON line each.
function idnodeParse(uris) {
  const out = execFileSync(idnode, ['gs1', 'parse', '-'], {
    input: uris.join('\n') + '\n',
    encoding: 'utf8',
    timeout: 30000,
  });
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  if (lines.length !== uris.length) {
    console.error(`idnode answered ${lines.length} lines for ${uris.length} URIs`);
    process.exit(1);
  }
  return lines;
}
const ours = idnodeParse(cases.map((c) => c.uri));

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
// The compressed form: every valid URI of the table that digital-link.js
// compresses and reads back to the same elements (it cannot for numbers of
// more than 15 digits, which it passes through a float, nor for AIs missing
// from its compression table) must read in idnode to the elements of the
// uncompressed URI, other parameters included.
const zipped = [];
for (let i = 0; i < cases.length; i++) {
  if (!ours[i].ok) continue;
  let full = cases[i].uri.startsWith('/') ? 'https://example.com' + cases[i].uri : cases[i].uri;
  full = full.replace(/^HTTPS:/, 'https:');
  let z;
  try {
    z = Utils.compressWebUri(full);
    const back = theirs(Utils.decompressWebUri(z));
    const orig = theirs(full);
    if (!back.ok || !orig.ok || !same(back.elems, orig.elems)) throw new Error('its own round trip differs');
  } catch (e) {
    console.log(`compressed: skipped, digital-link.js cannot compress it (${e.message}): ${cases[i].uri}`);
    continue;
  }
  zipped.push({ i, z });
}
const oursZ = idnodeParse(zipped.map((x) => x.z));
for (let k = 0; k < zipped.length; k++) {
  const { i, z } = zipped[k];
  const want = { ...ourElems(ours[i].dl), ...ours[i].dl.other };
  const got = oursZ[k].ok ? { ...ourElems(oursZ[k].dl), ...oursZ[k].dl.other } : null;
  if (got && same(got, want)) {
    passed++;
    console.log(`ok compressed: ${z}`);
  } else {
    failed++;
    console.log(`FAIL compressed ${z} (of ${cases[i].uri}): idnode ${got ? JSON.stringify(got) : 'invalid (' + oursZ[k].error + ')'}, want ${JSON.stringify(want)}`);
  }
}
if (zipped.length < 15) {
  failed++;
  console.log(`FAIL only ${zipped.length} compressed URIs compared, want at least 15`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
