/**
 * /v1/lists: upload (202 with the list id), state and counts, streamed downloads, delete.
 *
 * Files: uploads go to {dataDir}/uploads/{uuid}.csv, outputs to {dataDir}/lists/{listId}/ where the
 * list id is the upload's uuid without dashes. The parse pass runs after the 202 (a 10M-row file
 * takes a while); problems found before the list exists (no email column, binary file...) are
 * answered with 422 and the upload is removed.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type {} from '@fastify/multipart'; // request.parts() / isMultipart() typings
import type { Logger } from 'pino';
import type { HygieneRuntime } from '../app/runtime.ts';
import type { ListReport } from '../collector/report.ts';
import type { Config } from '../config/config.ts';
import { withoutServerPaths } from '../domain/public-text.ts';
import { describePolicy, parseRejectPolicy } from '../domain/routing-policy.ts';
import { HygieneError, isHygieneError } from '../errors.ts';
import type { ListRecord } from '../queue/list-store.ts';
import type { WebhookDispatcher } from '../webhook/webhook-dispatcher.ts';
import { checkWebhookUrl } from '../webhook/webhook-url-policy.ts';
import type { Principal } from './api-auth.ts';
import { ApiError, ERROR_SCHEMA } from './api-errors.ts';
import { createListStarter } from './list-starter.ts';
import { isInside, safeBaseName, saveUpload } from './upload-file.ts';
import { guardUpload, unlessAborted } from './upload-guard.ts';

export interface ListRouteDeps {
  config: Config;
  logger: Logger;
  runtime: HygieneRuntime;
  webhooks: WebhookDispatcher;
  /** A list that failed in this process outside the finalize worker (its parse pass). */
  onListFailed: (listId: string, error: string) => Promise<void>;
}

interface UploadOptions {
  emailColumn?: string;
  reject?: string;
  webhookUrl?: string;
  name?: string;
}

const OPTION_PROPERTIES = {
  emailColumn: { type: 'string', minLength: 1, maxLength: 200, description: 'Header name or 1-based number of the email column (default: detected).' },
  reject: {
    type: 'string',
    minLength: 1,
    maxLength: 500,
    description: 'Statuses, reasons and flags routed to rejected.csv, added to the server\'s policy (HYGIENE_REJECT): "risky,-duplicate" adds risky and keeps duplicates; a leading "=" replaces the policy ("=undeliverable").',
  },
  webhookUrl: { type: 'string', minLength: 1, maxLength: 2048, description: 'Called (signed POST) when the list is done or failed.' },
  name: { type: 'string', minLength: 1, maxLength: 200, description: 'Output base name (default: the uploaded file name, sanitised).' },
} as const;
const OPTION_NAMES = Object.keys(OPTION_PROPERTIES) as Array<keyof UploadOptions>;

/** RFC 2046 §5.1.1: a boundary of 1 to 70 characters, quoted or not. */
const MULTIPART_BOUNDARY = /;\s*boundary=(?:"[^"]{1,70}"|[^\s;"]{1,70})\s*(;|$)/i;

/** Counts uploads in flight per key in this process; take() answers null when the key is at its cap. */
function createUploadSlots(perKey: number): { take(key: string): (() => void) | null } {
  const inFlight = new Map<string, number>();
  return {
    take(key) {
      const now = inFlight.get(key) ?? 0;
      if (now >= perKey) return null;
      inFlight.set(key, now + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (inFlight.get(key) ?? 1) - 1;
        if (left <= 0) inFlight.delete(key);
        else inFlight.set(key, left);
      };
    },
  };
}

const LIST_ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[0-9a-f]{20,40}$' } },
} as const;

const COUNTS_SCHEMA = { type: 'object', additionalProperties: { type: 'integer' } } as const;

const LIST_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    state: { type: 'string', enum: ['parsing', 'enqueuing', 'verifying', 'collecting', 'done', 'failed'] },
    progress: { type: 'integer', minimum: 0, maximum: 100 },
    rows: { type: 'integer' },
    uniqueAddresses: { type: 'integer' },
    verified: { type: 'integer' },
    cleanedRows: { type: 'integer' },
    rejectedRows: { type: 'integer' },
    createdAt: { type: 'string' },
    finishedAt: { type: 'string' },
    error: { type: 'string' },
    tenant: { type: ['string', 'null'], description: 'Admin keys only: the tenant that uploaded the list (null: not uploaded through the API).' },
    counts: {
      type: 'object',
      properties: {
        byOutcome: { ...COUNTS_SCHEMA, description: 'Each row once: a verified address under its status; duplicate, invalid_syntax, missing_email and malformed_row on their own lines. Adds up to rows.' },
        byFile: { type: 'object', properties: { cleaned: COUNTS_SCHEMA, rejected: COUNTS_SCHEMA }, description: 'byOutcome per output file.' },
        byStatus: { ...COUNTS_SCHEMA, description: "By hygiene_status: a duplicate counts under its first occurrence's status." },
        byReason: COUNTS_SCHEMA,
      },
    },
    links: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

/** report.json as the API serves it: `input` and `outputs` are file names, not server paths. */
export function publicReport(report: ListReport, inputName: string): ListReport {
  const { cleaned, rejected, report: own } = report.outputs;
  return { ...report, input: inputName, outputs: { cleaned: path.basename(cleaned), rejected: path.basename(rejected), report: path.basename(own) } };
}

/** The caller's Principal (set by the auth hook on every non-public route). */
function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new ApiError(401, 'UNAUTHORIZED', 'An API key is required.');
  return req.principal;
}

function links(id: string): Record<string, string> {
  const self = `/v1/lists/${id}`;
  return { self, cleaned: `${self}/cleaned.csv`, rejected: `${self}/rejected.csv`, report: `${self}/report.json` };
}

/** Percent of the work done: verification is the long part; collecting is the last percent. */
export function listProgress(list: ListRecord): number {
  switch (list.state) {
    case 'done':
      return 100;
    case 'collecting':
      return 99;
    case 'parsing':
    case 'enqueuing':
      return 0;
    default:
      return list.uniqueAddresses > 0 ? Math.min(98, Math.floor((list.verified / list.uniqueAddresses) * 98)) : 0;
  }
}

/**
 * An engine error as a client may see it: the upload's server path becomes the name the client
 * knows it by, any other path its file name (domain/public-text.ts).
 */
function publicError(err: unknown, file: string, publicName: string): unknown {
  if (!isHygieneError(err)) return err;
  return new HygieneError(err.code, withoutServerPaths(err.message, [[file, publicName]]), err.context, { cause: err });
}

export async function registerListRoutes(app: FastifyInstance, deps: ListRouteDeps): Promise<void> {
  const { config, runtime, webhooks } = deps;
  const uploadsDir = path.join(config.dataDir, 'uploads');
  const listsDir = path.join(config.dataDir, 'lists');
  await mkdir(uploadsDir, { recursive: true, mode: 0o700 });
  await mkdir(listsDir, { recursive: true, mode: 0o700 });

  // Parse passes run under a lease; lists whose API process died during theirs are taken over.
  const starter = createListStarter({ runtime, logger: deps.logger, uploadsDir, leaseMs: config.api.parseLeaseMs, onListFailed: deps.onListFailed });
  const sweep = (): void => {
    starter.sweep().catch((err: unknown) => deps.logger.warn({ err: (err as Error).message }, 'could not look for orphaned lists'));
  };
  sweep();
  const sweepTimer = setInterval(sweep, config.api.parseLeaseMs);
  sweepTimer.unref();
  app.addHook('onClose', async () => {
    clearInterval(sweepTimer);
    await starter.close();
  });

  const uploadSlots = createUploadSlots(config.api.uploadsPerKey);

  // A CSV body is handed to the route as the raw request stream (never buffered in memory).
  app.addContentTypeParser(['text/csv', 'application/csv'], (_req, _payload, done) => done(null));

  async function checkOptions(raw: Record<string, unknown>): Promise<UploadOptions & { reject: string }> {
    const options: UploadOptions = {};
    for (const name of OPTION_NAMES) {
      const value = raw[name];
      if (value === undefined) continue;
      const limit = OPTION_PROPERTIES[name].maxLength;
      if (typeof value !== 'string' || value === '' || value.length > limit) {
        throw new ApiError(400, 'VALIDATION_FAILED', `${name} must be a string of 1 to ${limit} characters.`);
      }
      options[name] = value;
    }
    let reject: string;
    try {
      // Like --reject: the list extends the server's policy (HYGIENE_REJECT); a leading "=" replaces it.
      reject = describePolicy(parseRejectPolicy(options.reject, config.output.rejectPolicy, 'reject'));
    } catch (err) {
      throw new ApiError(400, 'VALIDATION_FAILED', (err as Error).message);
    }
    if (options.webhookUrl !== undefined) {
      if (!webhooks.enabled) throw new ApiError(422, 'WEBHOOK_NOT_CONFIGURED', 'Webhooks need HYGIENE_WEBHOOK_SECRET on the server.');
      await checkWebhookUrl(options.webhookUrl, { allowPrivate: config.webhook.allowPrivate });
    }
    return { ...options, reject };
  }

  async function receive(req: FastifyRequest, file: string, signal: AbortSignal): Promise<{ fields: Record<string, unknown>; clientName?: string }> {
    const limit = config.api.uploadMaxBytes;
    if (req.isMultipart()) {
      // Checked here: without a boundary the multipart parser fails with an error of no particular kind (a 500).
      if (!MULTIPART_BOUNDARY.test(req.headers['content-type'] ?? '')) {
        throw new ApiError(400, 'MALFORMED_BODY', 'A multipart/form-data body needs a boundary parameter in its Content-Type (1 to 70 characters).');
      }
      const fields: Record<string, unknown> = {};
      let clientName: string | undefined;
      let gotFile = false;
      const parts = req.parts({ limits: { fileSize: limit, files: 1, fields: 20, fieldSize: 4096 } })[Symbol.asyncIterator]();
      try {
        for (;;) {
          // The next part may never come (a client gone quiet between parts): the watchdog ends the wait.
          const next = await unlessAborted(parts.next(), signal);
          if (next.done) break;
          const part = next.value;
          if (part.type === 'file') {
            if (part.fieldname !== 'file') throw new ApiError(400, 'VALIDATION_FAILED', 'The CSV must be sent in the multipart field "file".');
            await saveUpload(part.file, file, limit, signal);
            if (part.file.truncated) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `The upload is larger than the limit of ${limit} bytes.`);
            clientName = part.filename;
            gotFile = true;
          } else if (OPTION_NAMES.includes(part.fieldname as keyof UploadOptions)) {
            fields[part.fieldname] = part.value;
          } else {
            throw new ApiError(400, 'VALIDATION_FAILED', `Unknown field "${part.fieldname}".`);
          }
        }
      } catch (err) {
        // The parser's own failures (a body that ends before its closing boundary...) are the client's.
        if (err instanceof ApiError || (err as { statusCode?: number }).statusCode !== undefined) throw err;
        throw new ApiError(400, 'MALFORMED_BODY', `The multipart body could not be read: ${(err as Error).message}.`);
      }
      if (!gotFile) throw new ApiError(400, 'VALIDATION_FAILED', 'The multipart body has no "file" field.');
      return { fields, clientName };
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'text/csv' && type !== 'application/csv') {
      throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the CSV as text/csv or as multipart/form-data with a "file" field.');
    }
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `The upload is larger than the limit of ${limit} bytes (HYGIENE_UPLOAD_MAX_BYTES).`);
    await saveUpload(req.raw, file, limit, signal);
    return { fields: {} };
  }

  app.post(
    '/v1/lists',
    {
      bodyLimit: config.api.uploadMaxBytes,
      schema: {
        tags: ['lists'],
        summary: 'Upload a CSV; verification runs in the background.',
        description:
          'Body: text/csv (options in the query string) or multipart/form-data with a "file" field (options as fields or in the query string).',
        consumes: ['text/csv', 'multipart/form-data'],
        querystring: { type: 'object', additionalProperties: false, properties: OPTION_PROPERTIES },
        response: {
          202: { type: 'object', properties: { id: { type: 'string' }, state: { type: 'string' }, links: { type: 'object', additionalProperties: { type: 'string' } } } },
          '4xx': ERROR_SCHEMA,
        },
      },
    },
    async (req, reply) => {
      const uuid = randomUUID();
      const listId = uuid.replace(/-/g, '');
      const file = path.join(uploadsDir, `${uuid}.csv`);
      const query = req.query as Record<string, unknown>;
      // Query options are checked before a byte is stored; multipart fields once they have arrived.
      await checkOptions(query);
      let options: UploadOptions & { reject: string };
      let clientName: string | undefined;
      const principal = principalOf(req);
      const release = uploadSlots.take(principal.keyLabel);
      if (!release) {
        throw new ApiError(429, 'TOO_MANY_UPLOADS', `This key already has ${config.api.uploadsPerKey} uploads in flight (HYGIENE_API_UPLOADS_PER_KEY); wait for one to finish.`);
      }
      const guard = guardUpload(req.raw, { idleMs: config.api.uploadIdleTimeoutMs, totalMs: config.api.requestTimeoutMs });
      try {
        const received = await receive(req, file, guard.signal);
        clientName = received.clientName;
        options = await checkOptions({ ...query, ...received.fields });
      } catch (err) {
        await rm(file, { force: true });
        throw publicError(err, file, `${safeBaseName(clientName)}.csv`);
      } finally {
        guard.dispose();
        release();
      }
      const log = deps.logger.child({ listId });
      let created = false;
      let markCreated: () => void = () => undefined;
      const listExists = new Promise<void>((resolve) => {
        markCreated = resolve;
      });
      const running = starter.start({
        input: file,
        outDir: path.join(listsDir, listId),
        listId,
        tenant: principal.tenant,
        name: safeBaseName(options.name ?? clientName),
        options: {
          emailColumn: options.emailColumn,
          reject: options.reject,
          neutraliseFormulas: config.output.neutraliseFormulas,
          webhookUrl: options.webhookUrl,
          ...(config.api.allowPrivateMx ? {} : { refusePrivateMx: true }),
        },
        onCreated: () => {
          created = true;
          markCreated();
        },
      });
      // The parse pass goes on after the 202; a failure once the list exists marks it failed.
      running.catch((err: unknown) => {
        if (!created) return;
        const message = (err as Error).message;
        log.error({ err: message }, 'list failed while parsing');
        void runtime.store
          .setState(listId, 'failed', { error: message })
          .then(() => deps.onListFailed(listId, message))
          .catch((e: unknown) => log.warn({ err: (e as Error).message }, 'could not record the failure'));
      });
      try {
        // Answer once the list exists; a file refused before that (no email column...) is a 422.
        await Promise.race([listExists, running]);
      } catch (err) {
        await rm(file, { force: true });
        throw publicError(err, file, `${safeBaseName(options.name ?? clientName)}.csv`);
      }
      // A log figure only: no size when the file cannot be read.
      log.info({ bytes: (await stat(file).catch(() => null))?.size, name: safeBaseName(options.name ?? clientName) }, 'list uploaded');
      return reply.code(202).header('location', `/v1/lists/${listId}`).send({ id: listId, state: 'parsing', links: links(listId) });
    },
  );

  /** How the API names a list's input: the upload's client-side name, or the file's own name. */
  const publicInputName = (list: ListRecord): string => (isInside(uploadsDir, list.input) ? `${list.name}.csv` : path.basename(list.input));

  /**
   * The list, if this principal may see it: its own tenant's, or any for an admin. Another
   * tenant's list is answered exactly like one that does not exist (404), so ids cannot be probed.
   */
  async function getList(id: string, principal: Principal): Promise<ListRecord> {
    const list = await runtime.store.get(id);
    if (!list || !(principal.admin || (list.tenant !== undefined && list.tenant === principal.tenant))) {
      throw new ApiError(404, 'LIST_NOT_FOUND', `No list with id ${id}.`);
    }
    return list;
  }

  /** A list as the API shows it; `counts` need the report (done lists only). */
  async function listView(list: ListRecord, principal: Principal, withCounts: boolean): Promise<Record<string, unknown>> {
    let report: ListReport | null = null;
    if (withCounts && list.state === 'done' && list.reportPath) {
      report = JSON.parse(await readFile(list.reportPath, 'utf8').catch(() => 'null')) as ListReport | null;
    }
    return {
      id: list.id,
      name: list.name,
      state: list.state,
      progress: listProgress(list),
      rows: list.rows,
      uniqueAddresses: list.uniqueAddresses,
      verified: list.verified,
      createdAt: list.createdAt,
      ...(list.finishedAt ? { finishedAt: list.finishedAt } : {}),
      ...(list.error ? { error: withoutServerPaths(list.error, [[list.input, publicInputName(list)]]) } : {}),
      ...(report ? { cleanedRows: report.cleanedRows, rejectedRows: report.rejectedRows, counts: report.counts } : {}),
      // Admins see whose list it is (lists without one come from the CLI, watch folder or schedules).
      ...(principal.admin ? { tenant: list.tenant ?? null } : {}),
      links: links(list.id),
    };
  }

  app.get(
    '/v1/lists',
    {
      schema: {
        tags: ['lists'],
        summary: "Your tenant's lists, newest first (admin keys: every list, with its tenant).",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
            cursor: { type: 'string', maxLength: 100, description: 'The previous page\'s `next`.' },
          },
        },
        response: { 200: { type: 'object', properties: { lists: { type: 'array', items: LIST_SCHEMA }, next: { type: 'string' } } }, '4xx': ERROR_SCHEMA },
      },
    },
    async (req) => {
      const principal = principalOf(req);
      const { limit, cursor } = req.query as { limit: number; cursor?: string };
      const page = await runtime.store.page(principal.admin ? null : principal.tenant, limit, cursor);
      return { lists: await Promise.all(page.lists.map((list) => listView(list, principal, false))), ...(page.next ? { next: page.next } : {}) };
    },
  );

  app.get(
    '/v1/lists/:id',
    {
      schema: {
        tags: ['lists'],
        summary: 'State, progress and counts of a list (counts by status and reason once done).',
        params: LIST_ID_PARAMS,
        response: { 200: LIST_SCHEMA, '4xx': ERROR_SCHEMA },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const principal = principalOf(req);
      return listView(await getList(id, principal), principal, true);
    },
  );

  const downloads = [
    { suffix: 'cleaned.csv', field: 'cleanedPath', type: 'text/csv' },
    { suffix: 'rejected.csv', field: 'rejectedPath', type: 'text/csv' },
    { suffix: 'report.json', field: 'reportPath', type: 'application/json' },
  ] as const;
  for (const download of downloads) {
    app.get(
      `/v1/lists/:id/${download.suffix}`,
      {
        schema: {
          tags: ['lists'],
          summary: `Download ${download.suffix} (409 while the list is not done).`,
          params: LIST_ID_PARAMS,
          produces: [download.type],
          response: { '4xx': ERROR_SCHEMA },
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const list = await getList(id, principalOf(req));
        if (list.state !== 'done') throw new ApiError(409, 'LIST_NOT_READY', `The list is ${list.state}; downloads are available once it is done.`);
        const file = list[download.field];
        // A missing output file is answered as such (404) below.
        const info = file ? await stat(file).catch(() => null) : null;
        if (!file || !info?.isFile()) throw new ApiError(410, 'FILE_GONE', `${download.suffix} of this list is no longer on the server.`);
        void reply.type(download.type).header('content-disposition', `attachment; filename="${safeBaseName(list.name)}.${download.suffix}"`);
        if (download.suffix === 'report.json') {
          // The stored report names server paths (input, outputs); the served one names files.
          const body = JSON.stringify(publicReport(JSON.parse(await readFile(file, 'utf8')) as ListReport, publicInputName(list)), null, 2);
          return reply.header('content-length', String(Buffer.byteLength(body))).send(body);
        }
        return reply.header('content-length', String(info.size)).send(createReadStream(file));
      },
    );
  }

  app.delete(
    '/v1/lists/:id',
    {
      schema: {
        tags: ['lists'],
        summary: 'Delete a finished (or failed) list: its Redis keys, upload and outputs.',
        params: LIST_ID_PARAMS,
        response: { 204: { type: 'null' }, '4xx': ERROR_SCHEMA },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const list = await getList(id, principalOf(req));
      // Verify jobs of a running list would write verdicts after the keys are gone.
      if (list.state !== 'done' && list.state !== 'failed') throw new ApiError(409, 'LIST_BUSY', `The list is ${list.state}; delete it once it is done or failed.`);
      await runtime.store.deleteList(id);
      // Only files this API created are removed (a list started by `hygiene verify` keeps its files).
      if (isInside(listsDir, list.outDir)) await rm(list.outDir, { recursive: true, force: true });
      if (isInside(uploadsDir, list.input)) await rm(list.input, { force: true });
      deps.logger.info({ listId: id }, 'list deleted');
      return reply.code(204).send();
    },
  );
}
