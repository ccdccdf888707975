/**
 * The identity of the bytes a pass over a list's input read: SHA-256 and length. The producer's
 * pass and the collector's pass each compute one from the chunks they already read (no extra read
 * of the file); the collector writes nothing under a final name unless both are equal, because
 * row indexes, first occurrences and verdicts all refer to the bytes of the first pass.
 */
import { createHash, type Hash } from 'node:crypto';

export interface InputFingerprint {
  /** Hex SHA-256 of every byte of the file, as read. */
  sha256: string;
  bytes: number;
}

export class InputDigest {
  private readonly hash: Hash = createHash('sha256');
  private length = 0;
  private done: InputFingerprint | undefined;

  /** Feeds the next chunk read from the file (in file order). */
  update(chunk: Buffer): void {
    if (this.done) throw new Error('InputDigest: the digest was already taken.');
    this.hash.update(chunk);
    this.length += chunk.length;
  }

  /** The fingerprint of everything fed so far; feeding ends here. */
  result(): InputFingerprint {
    this.done ??= { sha256: this.hash.digest('hex'), bytes: this.length };
    return this.done;
  }
}
