/**
 * The watchdog of one upload: an upload must keep arriving (no gap longer than the idle timeout)
 * and must be complete by the request timeout, and a client that goes away ends it at once. Any of
 * the three aborts `signal` with an ApiError; whoever reads the body (saveUpload, the multipart loop)
 * stops there and the partial file is removed.
 *
 * Why not socket or server timeouts: Node's server.requestTimeout is only checked every 30 s, and a
 * socket idle timeout would also cut /v1/verify (which may wait 30 s without a byte) and slow
 * downloads. Why poll `socket.bytesRead` instead of listening for 'data': a 'data' listener would
 * switch the request stream to flowing mode before its consumer is attached, losing bytes.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError } from './api-errors.ts';

export interface UploadLimits {
  /** Longest gap between two arriving bytes (HYGIENE_API_UPLOAD_IDLE_TIMEOUT_MS). */
  idleMs: number;
  /** The whole upload must have arrived by then (HYGIENE_API_REQUEST_TIMEOUT_MS). */
  totalMs: number;
}

export interface UploadGuard {
  readonly signal: AbortSignal;
  /** Stops watching (the body has been read, or the request failed for another reason). */
  dispose(): void;
}

export function guardUpload(req: IncomingMessage, limits: UploadLimits): UploadGuard {
  const controller = new AbortController();
  const socket = req.socket;
  let lastBytes = socket.bytesRead;
  let lastProgress = Date.now();
  const abort = (err: ApiError): void => {
    if (!controller.signal.aborted) controller.abort(err);
    dispose();
  };
  const idleCheck = setInterval(() => {
    const bytes = socket.bytesRead;
    // Once the body is all in, waiting is our doing, not the client's: only the total deadline applies.
    if (bytes !== lastBytes || req.complete) {
      lastBytes = bytes;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress >= limits.idleMs) {
      abort(new ApiError(408, 'REQUEST_TIMEOUT', `No upload data arrived for ${limits.idleMs} ms (HYGIENE_API_UPLOAD_IDLE_TIMEOUT_MS); the upload was cut off.`));
    }
  }, Math.max(20, Math.min(1_000, Math.floor(limits.idleMs / 5))));
  const total = setTimeout(
    () => abort(new ApiError(408, 'REQUEST_TIMEOUT', `The upload was not complete within ${limits.totalMs} ms (HYGIENE_API_REQUEST_TIMEOUT_MS); it was cut off.`)),
    limits.totalMs,
  );
  const onClose = (): void => {
    if (!req.complete) abort(new ApiError(400, 'UPLOAD_ABORTED', 'The client closed the connection before the upload was complete.'));
  };
  // The request's own 'error' (ECONNRESET when the client vanishes) is reported through onClose.
  const onError = (): void => undefined;
  req.on('close', onClose);
  req.on('error', onError);
  function dispose(): void {
    clearInterval(idleCheck);
    clearTimeout(total);
    req.off('close', onClose);
    req.off('error', onError);
  }
  return { signal: controller.signal, dispose };
}

/** Settles like `work`, or rejects with the signal's reason as soon as it is aborted. */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}
