// pqx interop: pqx's age files against typage (npm age-encryption), an independent
// implementation, both directions: mlkem768x25519 hybrid, X25519 and scrypt recipients,
// binary and armored, several recipients, identity files.
//
// Usage: node typage.mjs PQX   (the pqx binary; or set PQX)
// Every run uses fresh random plaintexts, keys and passphrases, in a mktemp -d style folder
// removed at exit. Prints one "PASS interop age-encryption ..." / "FAIL ..." / "SKIP ..."
// line per check; exits 1 on any FAIL.

import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const N = 'interop age-encryption';
const pqxArg = process.argv[2] ?? process.env.PQX;
if (!pqxArg) {
  console.log(`FAIL ${N}: usage: node typage.mjs PQX (or set PQX)`);
  process.exit(1);
}
const pqx = resolve(pqxArg);

let age;
try {
  age = await import('age-encryption');
} catch {
  console.log(`SKIP ${N}: tests/interop/node_modules/age-encryption is missing (run scripts/deps.sh)`);
  process.exit(0);
}
if (!existsSync(pqx)) {
  console.log(`FAIL ${N}: ${pqx} is not built (make all)`);
  process.exit(1);
}
const version = JSON.parse(
  readFileSync(new URL('node_modules/age-encryption/package.json', import.meta.url))
).version;
console.log(`# ${N} ${version} (typage), node ${process.version}, pqx ${pqx}`);

const dir = mkdtempSync(join(tmpdir(), 'pqx-typage-'));
const cleanup = () => rmSync(dir, { recursive: true, force: true });
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

let failed = 0;
const pass = (what) => console.log(`PASS ${N} ${what}`);
const fail = (what, why) => {
  failed = 1;
  console.log(`FAIL ${N} ${what}: ${why}`);
};
const sha = (b) => createHash('sha256').update(b).digest('hex').slice(0, 16);
const f = (name) => join(dir, name);
let seq = 0;
const tmp = (tag) => f(`${tag}.${seq++}`);

// Runs pqx with ARGS; opts.input goes to stdin, opts.fd3 (a file) to descriptor 3.
// Returns { status, stdout, stderr }; throws with pqx's message on a non-zero status.
function runPqx(args, opts = {}) {
  const stdio = ['pipe', 'pipe', 'pipe'];
  let fd = null;
  if (opts.fd3) stdio.push((fd = openSync(opts.fd3, 'r')));
  try {
    const r = spawnSync(pqx, args, {
      input: opts.input ?? '',
      stdio,
      maxBuffer: 1 << 30,
      timeout: 60000,
    });
    if (r.error) throw r.error;
    const res = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.toString() };
    if (r.status !== 0 && !opts.mayFail)
      throw new Error(`pqx ${args[0]} exited ${r.status ?? r.signal}: ${res.stderr.trim().split('\n')[0]}`);
    return res;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

// pqx encrypts PLAIN with ARGS (recipients, -a, -p...); returns the file as a Buffer.
function pqxEncrypt(args, plain, opts = {}) {
  const out = tmp('c');
  const inp = tmp('p');
  writeFileSync(inp, plain);
  runPqx(['encrypt', '-q', ...args, '-o', out, inp], opts);
  return readFileSync(out);
}

// pqx decrypts FILE with ARGS (-i ..., --passphrase-fd 3); the plaintext, via a file.
function pqxDecrypt(args, file, opts = {}) {
  const inp = tmp('c');
  const out = tmp('p');
  writeFileSync(inp, file);
  runPqx(['decrypt', '-q', ...args, '-o', out, inp], opts);
  return readFileSync(out);
}

const idFile = (...ids) => {
  const p = tmp('key');
  writeFileSync(p, `# interop test identities\n${ids.join('\n')}\n`, { mode: 0o600 });
  return p;
};

async function tEncrypt(recipients, plain, { armor = false, passphrase = null, logN = null } = {}) {
  const e = new age.Encrypter();
  if (passphrase !== null) {
    if (logN !== null) e.setScryptWorkFactor(logN);
    e.setPassphrase(passphrase);
  }
  for (const r of recipients) e.addRecipient(r);
  const c = await e.encrypt(plain);
  return armor ? Buffer.from(age.armor.encode(c)) : Buffer.from(c);
}

async function tDecrypt(identities, file, { armor = false, passphrase = null } = {}) {
  const d = new age.Decrypter();
  for (const i of identities) d.addIdentity(i);
  if (passphrase !== null) d.addPassphrase(passphrase);
  const c = armor ? age.armor.decode(file.toString('latin1')) : new Uint8Array(file);
  return Buffer.from(await d.decrypt(c));
}

// One round trip: ENC(plain) -> file -> DEC(file) must give back plain's bytes.
async function check(what, plain, enc, dec) {
  try {
    const file = await enc(plain);
    const got = await dec(file);
    if (Buffer.compare(got, plain) === 0) pass(what);
    else fail(what, `want sha256 ${sha(plain)}... (${plain.length} bytes), got ${sha(got)}... (${got.length} bytes)`);
  } catch (e) {
    fail(what, e.message);
  }
}

// WHAT must be refused: F throws (or returns without output), and pqx leaves no file.
async function refused(what, fn) {
  try {
    await fn();
    fail(what, 'was accepted');
  } catch (e) {
    pass(`${what} (${e.message.split('\n')[0].slice(0, 70)})`);
  }
}

// A pqx-made identity file; its identity line and its recipient.
function pqxKeygen(classic) {
  const p = tmp('key');
  const r = runPqx(['keygen', ...(classic ? ['--classic'] : []), '-o', p]);
  const text = readFileSync(p, 'utf8');
  const id = text.split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'));
  const m = /Public key: (\S+)/.exec(r.stderr);
  return { file: p, id, rcpt: m ? m[1] : runPqx(['keygen', '-y', p]).stdout.toString().trim() };
}

async function typageKeygen(hybrid) {
  const id = hybrid ? await age.generateHybridIdentity() : await age.generateX25519Identity();
  return { id, rcpt: await age.identityToRecipient(id), file: idFile(id) };
}

const rnd = (n) => randomBytes(n);
const sizes = [0, 1, 65536, 65537, (1 << 20) + randomInt(4096)];

// Keys from both sides; each side must derive the same recipient from each identity.
const tPQ = await typageKeygen(true);
const pPQ = pqxKeygen(false);
const tX = await typageKeygen(false);
const pX = pqxKeygen(true);
for (const [what, k, byPqx] of [
  ['hybrid', tPQ, true],
  ['hybrid', pPQ, false],
  ['X25519', tX, true],
  ['X25519', pX, false],
]) {
  const name = byPqx
    ? `${what} recipient of a typage identity, derived by pqx keygen -y`
    : `${what} recipient of a pqx identity, derived by typage`;
  try {
    const got = byPqx
      ? runPqx(['keygen', '-y', k.file]).stdout.toString().trim()
      : await age.identityToRecipient(k.id);
    if (got === k.rcpt) pass(name);
    else fail(name, `got ${got.slice(0, 40)}..., want ${k.rcpt.slice(0, 40)}...`);
  } catch (e) {
    fail(name, e.message);
  }
}
if (!pPQ.rcpt.startsWith('age1pq1') || !tPQ.rcpt.startsWith('age1pq1'))
  fail('hybrid recipients start with age1pq1', `${pPQ.rcpt.slice(0, 10)}, ${tPQ.rcpt.slice(0, 10)}`);

// Binary files, every size, both directions, keys from both generators.
for (const n of sizes) {
  const plain = rnd(n);
  for (const [kind, t, p] of [
    ['mlkem768x25519', tPQ, pPQ],
    ['X25519', tX, pX],
  ]) {
    for (const [who, k] of [
      ['typage key', t],
      ['pqx key', p],
    ]) {
      await check(`typage->pqx ${kind} (${who}) ${n} bytes`, plain,
        (x) => tEncrypt([k.rcpt], x),
        (c) => pqxDecrypt(['-i', k.file], c));
      await check(`pqx->typage ${kind} (${who}) ${n} bytes`, plain,
        (x) => pqxEncrypt(['-r', k.rcpt], x),
        (c) => tDecrypt([k.id], c));
    }
  }
}

// pqx reading standard input and writing standard output.
{
  const plain = rnd(65536 * 2 + randomInt(65536));
  await check(`typage->pqx mlkem768x25519 stdin/stdout ${plain.length} bytes`, plain,
    (x) => tEncrypt([pPQ.rcpt], x),
    (c) => runPqx(['decrypt', '-q', '-i', pPQ.file], { input: c }).stdout);
  await check(`pqx->typage mlkem768x25519 stdin/stdout ${plain.length} bytes`, plain,
    (x) => runPqx(['encrypt', '-q', '-r', tPQ.rcpt], { input: x }).stdout,
    (c) => tDecrypt([tPQ.id], c));
}

// ASCII armor.
for (const n of [0, 65537, (1 << 20) + randomInt(4096)]) {
  const plain = rnd(n);
  for (const [kind, t, p] of [
    ['mlkem768x25519', tPQ, pPQ],
    ['X25519', tX, pX],
  ]) {
    await check(`typage->pqx ${kind} armored ${n} bytes`, plain,
      (x) => tEncrypt([p.rcpt], x, { armor: true }),
      (c) => pqxDecrypt(['-i', p.file], c));
    await check(`pqx->typage ${kind} armored ${n} bytes`, plain,
      async (x) => {
        const c = pqxEncrypt(['-a', '-r', t.rcpt], x);
        if (!c.toString('latin1').startsWith('-----BEGIN AGE ENCRYPTED FILE-----\n'))
          throw new Error('pqx -a wrote no armor');
        return c;
      },
      (c) => tDecrypt([t.id], c, { armor: true }));
  }
}

// Several recipients: one file, each identity alone opens it; identity files with several keys.
{
  const plain = rnd(65536 * 3 + randomInt(65536));
  const tPQ2 = await typageKeygen(true);
  const rfile = tmp('rcpts');
  writeFileSync(rfile, `# two hybrid recipients\n${tPQ.rcpt}\n\n${pPQ.rcpt}\n`);
  let c;
  try {
    c = await tEncrypt([tPQ.rcpt, pPQ.rcpt, tPQ2.rcpt], plain);
  } catch (e) {
    fail('typage encrypts to three hybrid recipients', e.message);
  }
  if (c) {
    for (const [who, k] of [['1st (typage)', tPQ], ['2nd (pqx)', pPQ], ['3rd (typage)', tPQ2]])
      await check(`typage->pqx three hybrid recipients, identity ${who}`, plain, () => c,
        (x) => pqxDecrypt(['-i', k.file], x));
    await check('typage->pqx three hybrid recipients, identity file with two others', plain, () => c,
      (x) => pqxDecrypt(['-i', idFile(pX.id, tPQ2.id)], x));
  }
  for (const [how, args] of [
    ['-r -r', ['-r', tPQ.rcpt, '-r', pPQ.rcpt]],
    ['recipients file', ['-R', rfile]],
  ]) {
    try {
      c = pqxEncrypt(args, plain);
    } catch (e) {
      fail(`pqx encrypts to two hybrid recipients (${how})`, e.message);
      continue;
    }
    for (const [who, k] of [['typage', tPQ], ['pqx', pPQ]])
      await check(`pqx->typage two hybrid recipients (${how}), identity ${who}`, plain, () => c,
        (x) => tDecrypt([k.id], x));
  }
  await check('pqx->typage, typage given several identities', plain,
    (x) => pqxEncrypt(['-r', tPQ.rcpt], x),
    (x) => tDecrypt([tX.id, pPQ.id, tPQ.id], x));
  await check('typage->pqx X25519, two recipients', plain,
    (x) => tEncrypt([pX.rcpt, tX.rcpt], x),
    (x) => pqxDecrypt(['-i', tX.file], x));
  await check('pqx->typage X25519, two recipients', plain,
    (x) => pqxEncrypt(['-r', pX.rcpt, '-r', tX.rcpt], x),
    (x) => tDecrypt([tX.id], x));
  // typage lets a file mix hybrid and X25519 recipients (pqx refuses to write one);
  // reading one is allowed by the spec, and age does.
  await check('typage->pqx mixed hybrid + X25519 recipients, hybrid identity', plain,
    (x) => tEncrypt([tX.rcpt, pPQ.rcpt], x),
    (x) => pqxDecrypt(['-i', pPQ.file], x));
  await refused('pqx refuses to encrypt to hybrid and X25519 recipients together', () =>
    pqxEncrypt(['-r', tPQ.rcpt, '-r', tX.rcpt], plain));
}

// Passphrases (scrypt), both directions; a space and non-ASCII letters in the passphrase.
{
  const pw = `${randomBytes(12).toString('base64url')} été ${randomInt(1e6)}`;
  const pwFile = tmp('pw');
  writeFileSync(pwFile, `${pw}\n`);
  for (const [n, logN] of [[0, 10], [65537 + randomInt(4096), 12], [(1 << 20) + randomInt(4096), 10]]) {
    const plain = rnd(n);
    await check(`typage->pqx scrypt (work factor ${logN}) ${n} bytes`, plain,
      (x) => tEncrypt([], x, { passphrase: pw, logN }),
      (c) => pqxDecrypt(['--passphrase-fd', '3'], c, { fd3: pwFile }));
    await check(`pqx->typage scrypt (work factor ${logN}) ${n} bytes`, plain,
      (x) => pqxEncrypt(['-p', '--passphrase-fd', '3', '--work-factor', String(logN)], x, { fd3: pwFile }),
      (c) => tDecrypt([], c, { passphrase: pw }));
  }
  const plain = rnd(1 + randomInt(65536));
  await check(`typage->pqx scrypt armored ${plain.length} bytes`, plain,
    (x) => tEncrypt([], x, { passphrase: pw, logN: 11, armor: true }),
    (c) => pqxDecrypt(['--passphrase-fd', '3'], c, { fd3: pwFile }));
  await check(`pqx->typage scrypt armored ${plain.length} bytes`, plain,
    (x) => pqxEncrypt(['-a', '-p', '--passphrase-fd', '3', '--work-factor', '11'], x, { fd3: pwFile }),
    (c) => tDecrypt([], c, { passphrase: pw, armor: true }));
  // pqx's default work factor (18), once: typage reads up to 20.
  await check(`pqx->typage scrypt (default work factor) ${plain.length} bytes`, plain,
    (x) => pqxEncrypt(['-p', '--passphrase-fd', '3'], x, { fd3: pwFile }),
    (c) => tDecrypt([], c, { passphrase: pw }));
  const bad = tmp('pw');
  writeFileSync(bad, `${pw}x\n`);
  const c = await tEncrypt([], plain, { passphrase: pw, logN: 10 });
  await refused('typage->pqx scrypt, wrong passphrase refused', () =>
    pqxDecrypt(['--passphrase-fd', '3'], c, { fd3: bad }));
  await refused('pqx->typage scrypt, wrong passphrase refused by typage', async () =>
    tDecrypt([], pqxEncrypt(['-p', '--passphrase-fd', '3', '--work-factor', '10'], plain, { fd3: pwFile }),
      { passphrase: `${pw}x` }));

  // A pqx identity file locked with a passphrase by typage, opened by pqx.
  const locked = tmp('key');
  writeFileSync(locked, await tEncrypt([], readFileSync(pPQ.file), { passphrase: pw, logN: 10, armor: true }));
  await check('typage->pqx with a hybrid identity file locked by typage (scrypt, armored)', plain,
    (x) => tEncrypt([pPQ.rcpt], x),
    (c) => pqxDecrypt(['-i', locked, '--passphrase-fd', '3'], c, { fd3: pwFile }));
}

// Tampering and wrong keys: pqx refuses typage's files and writes no plaintext file.
{
  const plain = rnd(65536 * 2 + 1 + randomInt(65536));
  const c = await tEncrypt([pPQ.rcpt], plain);
  const before = readdirSync(dir).length;
  const t1 = Buffer.from(c);
  t1[t1.length - 1] ^= 1;
  await refused('typage->pqx last chunk tampered, refused', () => pqxDecrypt(['-i', pPQ.file], t1));
  const t2 = Buffer.from(c);
  // A bit inside the mlkem768x25519 share (the header's second line).
  t2[c.indexOf('\n') + 40] ^= 4;
  await refused('typage->pqx hybrid share tampered, refused', () => pqxDecrypt(['-i', pPQ.file], t2));
  await refused('typage->pqx wrong hybrid identity refused', () => pqxDecrypt(['-i', tPQ.file], c));
  // Each refused decryption wrote its input (1 file) and must have left no output or temporary.
  const extra = readdirSync(dir).length - before;
  if (extra === 3) pass('pqx leaves no output or temporary file after refused decryptions');
  else fail('pqx leaves no output or temporary file after refused decryptions', `${extra - 3} extra files`);
  const p = pqxEncrypt(['-r', tPQ.rcpt], plain);
  const t3 = Buffer.from(p);
  t3[t3.length - 20] ^= 0x80;
  await refused('pqx->typage last chunk tampered, refused by typage', () => tDecrypt([tPQ.id], t3));
  await refused('pqx->typage wrong hybrid identity refused by typage', () => tDecrypt([pPQ.id], p));
}

process.exit(failed);
