/**
 * A Bloom filter over the address keys the collector has already met in its pass over the file.
 *
 * Why: the collector must tell a row that is the first occurrence of its address from a duplicate.
 * Both passes read the same rows in the same order with the same checks, so the first row of the
 * second pass with a given key is exactly the row the first pass recorded in :first. A key the
 * filter has never seen is therefore a first occurrence, and only the keys it may have seen (the
 * real duplicates, plus ~1% false positives) are looked up in :first. That lookup was half of the
 * collector's Redis traffic. Memory: 10 bits per unique address (1.2 MB per million), sized once
 * from the list's count, so it stays flat however many rows repeat.
 */
const BITS_PER_KEY = 10;
const HASHES = 7;

export class SeenFilter {
  private readonly bits: Uint32Array;
  private readonly size: number;

  constructor(expectedKeys: number) {
    this.size = Math.max(64, Math.ceil(Math.max(1, expectedKeys) * BITS_PER_KEY));
    this.bits = new Uint32Array(Math.ceil(this.size / 32));
  }

  /** Adds `key`; answers whether it may have been added before (false: certainly not). */
  testAndAdd(key: string): boolean {
    // Two 32-bit FNV-1a variants, combined by double hashing (Kirsch–Mitzenmacher).
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    }
    h2 = (h2 ^ (h2 >>> 15)) | 1;
    let seen = true;
    for (let i = 0; i < HASHES; i++) {
      const bit = ((h1 + Math.imul(i, h2)) >>> 0) % this.size;
      const word = bit >>> 5;
      const mask = 1 << (bit & 31);
      if ((this.bits[word]! & mask) === 0) {
        seen = false;
        this.bits[word]! |= mask;
      }
    }
    return seen;
  }
}
