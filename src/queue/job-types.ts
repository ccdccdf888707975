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
}

export interface FinalizeJobData {
  listId: string;
}

/** BullMQ forbids ':' in custom job ids; ours are built from hex list ids and numbers only. */
export const verifyJobId = (listId: string, seq: number): string => `v-${listId}-${seq}`;
export const retryJobId = (parentJobId: string, attempt: number): string => `${parentJobId}-r${attempt}`;
export const finalizeJobId = (listId: string): string => `f-${listId}`;
