// pqx interop: libpqx against @noble/post-quantum (an independent implementation) on fresh random inputs.
//
// Usage: node interop.mjs KEMTOOL
// KEMTOOL is the built tests/interop/kemtool.c. Every run draws new random
// inputs; a failing case is printed with the inputs that reproduce it.
// PQX_INTEROP_CASES sets the number of cases per check group (default 300).
// Prints one "PASS ..." or "FAIL ..." line per check group; exits 1 on any FAIL.

import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { ml_kem512, ml_kem768, ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';

const tool = process.argv[2];
const N = Number.parseInt(process.env.PQX_INTEROP_CASES ?? '300', 10);
const nobleVersion = JSON.parse(
  readFileSync(new URL('node_modules/@noble/post-quantum/package.json', import.meta.url))
).version;
let failed = 0;

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));
const rnd = (n) => new Uint8Array(randomBytes(n));
const cat = (...a) => Uint8Array.from(Buffer.concat(a.map((x) => Buffer.from(x))));
const eq = (a, b) => Buffer.from(a).equals(Buffer.from(b));

// Runs a batch of kemtool commands; returns each answer line split on spaces.
function pqx(lines) {
  const r = spawnSync(tool, { input: lines.join('\n') + '\n', maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0)
    throw new Error(`kemtool failed: ${r.error ?? r.stderr.toString() ?? r.status}`);
  const out = r.stdout.toString().split('\n');
  out.pop();
  if (out.length !== lines.length)
    throw new Error(`kemtool answered ${out.length} lines to ${lines.length} commands`);
  return out.map((l) => l.split(' '));
}

// Calls f, returning its result, or the string "throws" if it throws.
function attempt(f) {
  try {
    return f();
  } catch {
    return 'throws';
  }
}

// One check group: cases is a list of objects, check(c) returns null or a complaint.
function group(name, cases, check) {
  const bad = [];
  for (const c of cases) {
    let why;
    try {
      why = check(c);
    } catch (e) {
      why = `exception: ${e.message}`;
    }
    if (why) bad.push({ why, c });
  }
  if (bad.length === 0) {
    console.log(`PASS interop noble ${name} (${cases.length} cases)`);
    return;
  }
  failed++;
  console.log(`FAIL interop noble ${name} (${bad.length} of ${cases.length} cases)`);
  for (const { why, c } of bad.slice(0, 3)) {
    console.log(`  ${why}`);
    for (const [k, v] of Object.entries(c.inputs ?? {}))
      console.log(`    ${k} = ${v instanceof Uint8Array ? hex(v) : v}`);
  }
}

// Flips one random bit, or (every other case) replaces the whole thing with random bytes.
function corrupt(ct, i, from = 0, to = ct.length) {
  const out = Uint8Array.from(ct);
  if (i % 2 === 0) {
    const pos = randomInt(from, to);
    out[pos] ^= 1 << randomInt(8);
    return { ct: out, how: `bit flip at byte ${pos}` };
  }
  out.set(rnd(to - from), from);
  return { ct: out, how: `random bytes ${from}..${to}` };
}

// Makes ek fail the modulus check: one 12-bit t-hat coefficient set to a value in [q, 4095].
function badModulus(ek, k) {
  const out = Uint8Array.from(ek);
  const coeff = randomInt(k * 256);
  const v = randomInt(3329, 4096);
  const off = Math.floor(coeff / 2) * 3;
  if (coeff % 2 === 0) {
    out[off] = v & 0xff;
    out[off + 1] = (out[off + 1] & 0xf0) | (v >> 8);
  } else {
    out[off + 1] = (out[off + 1] & 0x0f) | ((v & 0xf) << 4);
    out[off + 2] = v >> 4;
  }
  return { ek: out, coeff, v };
}

function mlkem(name, noble, k, impl, implName) {
  const dkPke = k * 384;
  const ekLen = noble.lengths.publicKey;
  const label = `${name} [${implName}]`;
  const cases = [];
  for (let i = 0; i < N; i++) {
    const d = rnd(32), z = rnd(32), m = rnd(32), m2 = rnd(32);
    const keys = noble.keygen(cat(d, z));
    const enc = noble.encapsulate(keys.publicKey, m);
    const rej = corrupt(enc.cipherText, i);
    const badEk = badModulus(keys.publicKey, k);
    // A dk whose stored H(ek) does not match its ek (FIPS 203 section 7.3).
    const badDk = Uint8Array.from(keys.secretKey);
    const hpos = dkPke + ekLen + randomInt(32);
    badDk[hpos] ^= 1 << randomInt(8);
    cases.push({ d, z, m, m2, keys, enc, rej, badEk, badDk, hpos });
  }
  const lines = [`impl ${impl}`];
  for (const c of cases)
    lines.push(
      `${name}-keygen ${hex(c.d)} ${hex(c.z)}`,
      `${name}-encaps ${hex(c.keys.publicKey)} ${hex(c.m)}`,
      `${name}-decaps ${hex(c.keys.secretKey)} ${hex(c.enc.cipherText)}`,
      `${name}-decaps ${hex(c.keys.secretKey)} ${hex(c.rej.ct)}`,
      `${name}-encaps ${hex(c.badEk.ek)} ${hex(c.m)}`,
      `${name}-decaps ${hex(c.badDk)} ${hex(c.enc.cipherText)}`
    );
  const out = pqx(lines);
  if (out[0][0] !== implName) throw new Error(`kemtool selected ${out[0][0]}, not ${implName}`);
  cases.forEach((c, i) => {
    [c.keygen, c.encaps, c.decaps, c.decapsRej, c.encapsBad, c.decapsBad] = out.slice(
      1 + 6 * i,
      7 + 6 * i
    );
  });
  // pqx-made keys and ciphertexts, for noble to decapsulate.
  const out2 = pqx(cases.map((c) => `${name}-encaps ${c.keygen[0]} ${hex(c.m2)}`));
  cases.forEach((c, i) => {
    c.pqxEnc = out2[i];
    c.inputs = { d: c.d, z: c.z, m: c.m, m2: c.m2 };
  });

  group(`${label} keygen(d, z) equal`, cases, (c) =>
    c.keygen[0] !== hex(c.keys.publicKey)
      ? 'ek differs'
      : c.keygen[1] !== hex(c.keys.secretKey)
        ? 'dk differs'
        : null
  );
  group(`${label} encaps(ek, m) equal`, cases, (c) =>
    c.encaps[0] !== hex(c.enc.cipherText)
      ? 'ct differs'
      : c.encaps[1] !== hex(c.enc.sharedSecret)
        ? 'ss differs'
        : null
  );
  group(`${label} noble-encaps->pqx-decaps`, cases, (c) =>
    c.decaps[0] !== hex(c.enc.sharedSecret) ? `pqx decaps gave ${c.decaps.join(' ')}` : null
  );
  group(`${label} pqx-encaps->noble-decaps`, cases, (c) => {
    if (c.pqxEnc[0] === 'ERR') return `pqx encaps failed: ${c.pqxEnc[1]}`;
    const ss = noble.decapsulate(unhex(c.pqxEnc[0]), unhex(c.keygen[1]));
    return hex(ss) !== c.pqxEnc[1] ? 'noble decaps disagrees' : null;
  });
  group(`${label} implicit rejection of a corrupted ct`, cases, (c) => {
    c.inputs.corruption = c.rej.how;
    c.inputs.ct = c.rej.ct;
    const ss = noble.decapsulate(c.rej.ct, c.keys.secretKey);
    if (c.decapsRej[0] !== hex(ss)) return 'pqx and noble rejection keys differ';
    return eq(ss, c.enc.sharedSecret) ? 'corrupted ct gave the real key' : null;
  });
  group(`${label} ek failing the modulus check rejected`, cases, (c) => {
    c.inputs.coefficient = `${c.badEk.coeff} = ${c.badEk.v}`;
    if (c.encapsBad.join(' ') !== 'ERR -5') return `pqx encaps answered ${c.encapsBad[0]}`;
    return attempt(() => noble.encapsulate(c.badEk.ek, c.m)) !== 'throws'
      ? 'noble accepted it'
      : null;
  });
  group(`${label} dk failing the hash check rejected`, cases, (c) => {
    c.inputs.flipped = `dk byte ${c.hpos}`;
    if (c.decapsBad.join(' ') !== 'ERR -5') return `pqx decaps answered ${c.decapsBad[0]}`;
    return attempt(() => noble.decapsulate(c.enc.cipherText, c.badDk)) !== 'throws'
      ? 'noble accepted it'
      : null;
  });
}

// X25519 points of small order (and their non-canonical encodings), which
// give an all-zero shared secret; both sides must refuse them.
const lowOrder = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map(unhex);

function xwing(impl, implName) {
  const X = ml_kem768_x25519;
  const label = `xwing [${implName}]`;
  const cases = [];
  for (let i = 0; i < N; i++) {
    const seed = rnd(32), eseed = rnd(64), eseed2 = rnd(64);
    const pk = X.keygen(seed).publicKey;
    const enc = X.encapsulate(pk, eseed);
    // Corrupt the ML-KEM part on even cases, the X25519 share on odd ones.
    const rej = i % 4 < 2 ? corrupt(enc.cipherText, i, 0, 1088) : corrupt(enc.cipherText, i, 1088);
    const lo = lowOrder[i % lowOrder.length];
    const loCt = cat(enc.cipherText.subarray(0, 1088), lo);
    const loPk = cat(pk.subarray(0, 1184), lo);
    cases.push({ seed, eseed, eseed2, pk, enc, rej, loCt, loPk, inputs: { seed, eseed, eseed2 } });
  }
  const lines = [`impl ${impl}`];
  for (const c of cases)
    lines.push(
      `xwing-pub ${hex(c.seed)}`,
      `xwing-encaps ${hex(c.pk)} ${hex(c.eseed)}`,
      `xwing-decaps ${hex(c.seed)} ${hex(c.enc.cipherText)}`,
      `xwing-decaps ${hex(c.seed)} ${hex(c.rej.ct)}`,
      `xwing-encaps ${hex(c.pk)} ${hex(c.eseed2)}`,
      `xwing-decaps ${hex(c.seed)} ${hex(c.loCt)}`,
      `xwing-encaps ${hex(c.loPk)} ${hex(c.eseed)}`
    );
  const out = pqx(lines);
  if (out[0][0] !== implName) throw new Error(`kemtool selected ${out[0][0]}, not ${implName}`);
  cases.forEach((c, i) => {
    [c.pub, c.encaps, c.decaps, c.decapsRej, c.pqxEnc, c.decapsLo, c.encapsLo] = out.slice(
      1 + 7 * i,
      8 + 7 * i
    );
  });

  group(`${label} public key from seed equal`, cases, (c) =>
    c.pub[0] !== hex(c.pk) ? 'pk differs' : null
  );
  group(`${label} encaps(pk, eseed) equal`, cases, (c) =>
    c.encaps[0] !== hex(c.enc.cipherText)
      ? 'ct differs'
      : c.encaps[1] !== hex(c.enc.sharedSecret)
        ? 'ss differs'
        : null
  );
  group(`${label} noble-encaps->pqx-decaps`, cases, (c) =>
    c.decaps[0] !== hex(c.enc.sharedSecret) ? `pqx decaps gave ${c.decaps.join(' ')}` : null
  );
  group(`${label} pqx-encaps->noble-decaps`, cases, (c) => {
    if (c.pqxEnc[0] === 'ERR') return `pqx encaps failed: ${c.pqxEnc[1]}`;
    const ss = X.decapsulate(unhex(c.pqxEnc[0]), c.seed);
    return hex(ss) !== c.pqxEnc[1] ? 'noble decaps disagrees' : null;
  });
  group(`${label} corrupted ct gives the same new key`, cases, (c) => {
    c.inputs.corruption = c.rej.how;
    c.inputs.ct = c.rej.ct;
    const ss = attempt(() => X.decapsulate(c.rej.ct, c.seed));
    // A random X25519 share is low-order with negligible probability.
    if (ss === 'throws') return c.decapsRej[0] === 'ERR' ? null : 'noble refused, pqx did not';
    if (c.decapsRej[0] !== hex(ss)) return 'pqx and noble keys differ';
    return eq(ss, c.enc.sharedSecret) ? 'corrupted ct gave the real key' : null;
  });
  group(`${label} low-order X25519 share refused`, cases, (c) => {
    if (c.decapsLo.join(' ') !== 'ERR -5') return `pqx decaps answered ${c.decapsLo[0]}`;
    if (c.encapsLo.join(' ') !== 'ERR -5') return `pqx encaps answered ${c.encapsLo[0]}`;
    if (attempt(() => X.decapsulate(c.loCt, c.seed)) !== 'throws') return 'noble decaps accepted';
    return attempt(() => X.encapsulate(c.loPk, c.eseed)) !== 'throws'
      ? 'noble encaps accepted'
      : null;
  });
}

try {
  console.log(`# @noble/post-quantum ${nobleVersion}, ${N} cases per group`);
  const sel = pqx(['impl auto'])[0][0];
  // The portable code always; the selected one too where it differs (AVX2).
  const impls = [['portable', 'portable']];
  if (sel !== 'portable') impls.push(['auto', sel]);
  for (const [impl, implName] of impls) {
    mlkem('mlkem512', ml_kem512, 2, impl, implName);
    mlkem('mlkem768', ml_kem768, 3, impl, implName);
    mlkem('mlkem1024', ml_kem1024, 4, impl, implName);
    xwing(impl, implName);
  }
} catch (e) {
  console.log(`FAIL interop noble: ${e.message}`);
  failed++;
}
process.exit(failed ? 1 : 0);
