// pqx bench: the peer: @noble/post-quantum's ML-KEM-768 and X-Wing, median microseconds per operation.
import { ml_kem768 } from '../tests/interop/node_modules/@noble/post-quantum/ml-kem.js';
import { ml_kem768_x25519 } from '../tests/interop/node_modules/@noble/post-quantum/hybrid.js';

const RUNS = 301;

function median(fn) {
  const t = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0));
  }
  t.sort((a, b) => a - b);
  return t[RUNS >> 1] / 1000;
}

function bench(name, kem, seedLen) {
  const seed = new Uint8Array(seedLen).fill(0x42);
  const { publicKey, secretKey } = kem.keygen(seed);
  const { cipherText } = kem.encapsulate(publicKey);
  const rows = [
    ['keygen', () => kem.keygen(seed)],
    ['encaps', () => kem.encapsulate(publicKey)],
    ['decaps', () => kem.decapsulate(cipherText, secretKey)],
  ];
  for (const [op, fn] of rows) {
    median(fn); // warm up the JIT
    console.log(`noble     ${name.padEnd(12)} ${op.padEnd(7)} ${median(fn).toFixed(1).padStart(25)} us`);
  }
}

bench('ML-KEM-768', ml_kem768, 64);
bench('X-Wing', ml_kem768_x25519, 32);
