/** Payloads of our BullMQ jobs. Verify jobs carry references into Redis, not addresses, so a
 *  finished job kept for de-duplication costs little memory; greylisting retries carry their few
 *  addresses inline. */

export interface DomainSlice {
  domain: string;
  /** LRANGE bounds into {p}:list:{id}:dom:{domain}, inclusive. */
  start: number;
  stop: number;
}

export interface VerifyJobData {
  listId: string;
  slices?: DomainSlice[];
  addresses?: string[];
  attempt: number;
  /**
   * How many times these addresses were sent back unasked because their MX was paused (it slowed us
   * down). Not attempts: the server was never asked. Bounded by HYGIENE_MX_PAUSE_RETRIES.
   */
  deferrals?: number;
}

export interface FinalizeJobData {
  listId: string;
}

/** BullMQ forbids ':' in custom job ids; ours are built from hex list ids and numbers only. */
export const verifyJobId = (listId: string, seq: number): string => `v-${listId}-${seq}`;
export const retryJobId = (parentJobId: string, attempt: number): string => `${parentJobId}-r${attempt}`;
/** One job per due time of the probes a paused MX sent back (`index` tells apart several due times). */
export const deferredJobId = (parentJobId: string, deferral: number, index: number): string => `${parentJobId}-d${deferral}-${index}`;
export const finalizeJobId = (listId: string): string => `f-${listId}`;
