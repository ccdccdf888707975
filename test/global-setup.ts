/** Vitest global setup: build dist/ once before any test file runs (tests spawn the compiled CLI). */
import { buildDist } from './helpers/build-dist.ts';

export default function setup(): void {
  buildDist();
}
