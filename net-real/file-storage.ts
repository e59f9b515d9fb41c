import { createHash } from 'node:crypto';
import {
  close as closeAsync,
  closeSync,
  fdatasync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  open as openAsync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  write as writeAsync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { StorageError } from '../core/errors.ts';

/** A write made by the machine and not yet synced; `null` deletes. */
type StagedWrite = { readonly key: string; readonly value: Uint8Array | null };

/**
 * A node's durable state in a directory: the `persist` outputs of its machine (group logs,
 * votes, member ids, discovery's version), kept so that a restarted process comes back as
 * the member it was.
 *
 * One append-only file, `state.log`: an 8-byte header, then batches. A batch is every
 * write the machine made since the last flush, framed as `[u32 length][records][8 bytes of
 * SHA-256 over the records]`, and is on disk (fsync) before `flush` returns. A record is
 * `[u8 op][u16 key length][key][u32 value length][value]` (op 1 sets, op 0 deletes and has
 * no value part).
 *
 * Only the last batch can be half-written (the process died during a flush): one that runs
 * past the end of the file or fails its checksum as the last thing in it is dropped on open,
 * as its writes were never acknowledged. Damage anywhere before that is `corrupted`: nothing
 * is silently skipped. When the file grows past four times the live data (and 1 MiB), it is
 * rewritten as one batch, to a temporary file renamed over it, so a crash leaves one or the
 * other whole. After `flushAsync` the rewrite runs off the event loop (see `#compactInBackground`):
 * a large store must not stall the node's timers and heartbeats for the length of an fsync.
 *
 * A `LOCK` file holding the owner's pid keeps a second process out; a lock whose process is
 * gone, or with this process's pid that this process did not take, is taken over.
 */
export class FileStorage {
  readonly dir: string;
  /** Everything stored, as of the last flush (plus what is staged). */
  readonly #live = new Map<string, Uint8Array>();
  #liveBytes = 0;
  #fd: number;
  #fileBytes: number;
  #staged: StagedWrite[] = [];
  #syncing = false;
  #closed = false;
  /** A rewrite under way in the background, if any. */
  #compaction: Compaction | undefined;
  /** A failed write or sync, or a failure after a background rewrite's rename: every later flush fails with it. */
  #fatal: StorageError | undefined;
  /** After a rewrite failed: no new one until the file reaches this size. */
  #compactAgainAt = 0;

  private constructor(dir: string, fd: number, fileBytes: number) {
    this.dir = dir;
    this.#fd = fd;
    this.#fileBytes = fileBytes;
  }

  /** Opens (creating if needed) the store in `dir`; throws StorageError if it is locked or damaged. */
  static open(dir: string): FileStorage {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw ioError(`cannot create ${dir}`, e);
    }
    takeLock(dir);
    try {
      const path = join(dir, LOG_FILE);
      const bytes = readIfExists(path);
      const fd = openOrThrow(path, 'a+');
      const { entries, validBytes } = bytes === undefined ? { entries: [], validBytes: 0 } : parseLog(bytes, path);
      if (bytes !== undefined && validBytes < bytes.length) ftruncateSync(fd, validBytes); // the torn last batch
      if (validBytes === 0) writeAll(fd, HEADER);
      fsyncSync(fd);
      removeStaleRewrites(dir);
      const store = new FileStorage(dir, fd, Math.max(validBytes, HEADER.length));
      for (const { key, value } of entries) store.#apply(key, value);
      store.#compactIfLarge();
      return store;
    } catch (e) {
      releaseLock(dir);
      throw e instanceof StorageError ? e : ioError(`cannot open the storage in ${dir}`, e);
    }
  }

  /** What the store holds (a copy of the map; the values are shared). */
  entries(): Map<string, Uint8Array> {
    return new Map(this.#live);
  }

  /** A rewrite is under way in the background (for tests and diagnostics). */
  get compacting(): boolean {
    return this.#compaction !== undefined;
  }

  get(key: string): Uint8Array | undefined {
    return this.#live.get(key);
  }

  /** Stages a write (`null` deletes); it is durable once `flush` returns. */
  stage(key: string, value: Uint8Array | null): void {
    this.#assertOpen();
    if (Buffer.byteLength(key) > 0xffff) throw new StorageError('io', `storage key too long (${key.length} characters)`);
    this.#staged.push({ key, value });
  }

  /** Writes and syncs every staged write; throws StorageError('io') if the disk refuses. */
  flush(): void {
    this.#assertOpen();
    if (this.#fatal) throw this.#fatal;
    if (this.#staged.length === 0) return;
    if (this.#syncing) throw new StorageError('io', `a flush of ${this.dir} is already under way`);
    const written = this.#writeStaged();
    try {
      fdatasyncSync(this.#fd); // the data and the file's new length; not its times
    } catch (e) {
      throw this.#fail(ioError(`cannot write to the storage in ${this.dir}`, e));
    }
    this.#synced(written);
    if (!this.#compaction) this.#compactIfLarge();
  }

  /**
   * As `flush`, with the sync off the event loop (the batch is written at once, and synced
   * on libuv's thread pool): resolves once the writes are on disk, rejects with
   * StorageError('io'). One at a time: the runtime never starts a flush before the last ends.
   */
  flushAsync(): Promise<void> {
    this.#assertOpen();
    if (this.#fatal) return Promise.reject(this.#fatal);
    if (this.#staged.length === 0) return Promise.resolve();
    if (this.#syncing) return Promise.reject(new StorageError('io', `a flush of ${this.dir} is already under way`));
    let written: StagedWrite[];
    try {
      written = this.#writeStaged();
    } catch (e) {
      return Promise.reject(e);
    }
    this.#syncing = true;
    return new Promise((resolve, reject) => {
      fdatasync(this.#fd, (error) => {
        this.#syncing = false;
        if (this.#closed) return resolve(); // `close` synced everything written
        if (error) return reject(this.#fail(ioError(`cannot sync the storage in ${this.dir}`, error)));
        this.#synced(written);
        this.#compactInBackground();
        if (this.#fatal) return reject(this.#fatal);
        resolve();
      });
    });
  }

  /** Writes and syncs what is staged (and anything an unfinished `flushAsync` wrote), then releases the file and the lock. Idempotent. */
  close(): void {
    if (this.#closed) return;
    try {
      if (this.#syncing) {
        // The batch under way is written; this one goes after it, and one sync covers both.
        this.#writeStaged();
        fdatasyncSync(this.#fd);
      } else this.flush();
    } catch (e) {
      throw e instanceof StorageError ? e : ioError(`cannot write to the storage in ${this.dir}`, e);
    } finally {
      this.#closed = true;
      this.#abandonCompaction();
      closeSync(this.#fd);
      releaseLock(this.dir);
    }
  }

  /** Appends the staged writes as one batch (not synced yet) and returns them. */
  #writeStaged(): StagedWrite[] {
    const staged = this.#staged;
    this.#staged = [];
    if (staged.length === 0) return staged;
    const batch = encodeBatch(staged);
    try {
      writeAll(this.#fd, batch);
    } catch (e) {
      throw this.#fail(ioError(`cannot write to the storage in ${this.dir}`, e));
    }
    this.#fileBytes += batch.length;
    this.#compaction?.tail.push(batch);
    return staged;
  }

  /**
   * A write or sync failed: part of a batch may be in the file (the next open drops it as
   * torn, and would drop whatever came after it with it), or the disk may have lost what it
   * was given. Every later flush fails with the error.
   */
  #fail(error: StorageError): StorageError {
    this.#fatal ??= error;
    return error;
  }

  /** The written writes are on disk: they count as stored. */
  #synced(written: readonly StagedWrite[]): void {
    for (const { key, value } of written) this.#apply(key, value);
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError('io', `the storage in ${this.dir} is closed`);
  }

  #apply(key: string, value: Uint8Array | null): void {
    const before = this.#live.get(key);
    if (before !== undefined) this.#liveBytes -= recordBytes(key, before);
    if (value === null) this.#live.delete(key);
    else {
      this.#live.set(key, value);
      this.#liveBytes += recordBytes(key, value);
    }
  }

  #isLarge(): boolean {
    return this.#fileBytes > Math.max(COMPACT_MIN_BYTES, 4 * this.#liveBytes, this.#compactAgainAt);
  }

  /** Rewrites the file now, on the calling thread (on open, and after a synchronous flush). */
  #compactIfLarge(): void {
    if (!this.#isLarge()) return;
    const tmp = join(this.dir, `${LOG_FILE}.tmp`);
    try {
      const fd = openSync(tmp, 'w');
      let bytes = 0;
      try {
        bytes += writeAll(fd, HEADER);
        for (const batch of liveBatches([...this.#live], Number.POSITIVE_INFINITY)) bytes += writeAll(fd, batch);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, join(this.dir, LOG_FILE));
      this.#switchToRewrite(bytes);
    } catch (e) {
      throw ioError(`cannot compact the storage in ${this.dir}`, e);
    }
  }

  /**
   * The rewrite was just renamed over the log: appends go to it from now on. Throws if the
   * switch fails, which leaves the old descriptor on an unlinked file (writing on would lose
   * data: the caller stops the store).
   */
  #switchToRewrite(bytes: number): void {
    syncDir(this.dir);
    const replaced = this.#fd;
    this.#fd = openSync(join(this.dir, LOG_FILE), 'a');
    // The old file is unlinked: its blocks are freed when its last descriptor closes, which
    // for a large file takes the kernel tens of milliseconds. Off the event loop.
    closeAsync(replaced, () => {});
    this.#fileBytes = bytes;
    this.#compactAgainAt = 0;
  }

  /**
   * Starts or moves on a rewrite off the event loop (called after each async flush). The
   * live data is taken as it stands (a list of the stored values, which are never changed
   * in place) and written to a new file in batches of about 1 MiB, each encoded on the event
   * loop and written on libuv's thread pool, then synced. Flushes go on appending to the old
   * file meanwhile, which stays the store until the rename; their batches (`tail`) are
   * written to the new file too, and synced, until it has caught up at a moment when no sync
   * of the old file is in flight. Only the rename and the switch of descriptors run on the
   * event loop.
   */
  #compactInBackground(): void {
    const c = this.#compaction;
    if (c) return this.#advanceCompaction(c);
    if (!this.#isLarge()) return;
    const entries = [...this.#live];
    const tmp = join(this.dir, `${LOG_FILE}.${process.pid}.${++compactions}.tmp`);
    const compaction: Compaction = { tmp, tail: [], fd: undefined, bytes: 0, busy: true, catchUps: 0, abandoned: false };
    this.#compaction = compaction;
    this.#backgroundStep(compaction, writeRewrite(tmp, entries));
  }

  /** Runs one asynchronous step of a rewrite, then moves it on; a failure before the rename gives it up. */
  #backgroundStep(c: Compaction, step: Promise<{ fd: number; bytes: number }>): void {
    step.then(
      ({ fd, bytes }) => {
        c.fd = fd;
        c.bytes += bytes;
        c.busy = false;
        if (c.abandoned) return discardRewrite(fd, c.tmp);
        this.#advanceCompaction(c);
      },
      () => {
        c.busy = false;
        if (c.fd !== undefined) discardRewrite(c.fd, c.tmp);
        else removeQuietly(c.tmp);
        if (c.abandoned) return;
        // The old file is whole and still the store: give up on this rewrite (the disk may
        // be full) and try again once the file has doubled.
        this.#compaction = undefined;
        this.#compactAgainAt = 2 * this.#fileBytes;
      },
    );
  }

  /** Catches the new file up with the tail, or, once it has and no sync is in flight, switches to it. */
  #advanceCompaction(c: Compaction): void {
    if (c.busy || c.abandoned || c.fd === undefined) return;
    if (c.tail.length > 0 && c.catchUps < MAX_BACKGROUND_CATCH_UPS) {
      c.busy = true;
      c.catchUps++;
      return this.#backgroundStep(c, appendAndSync(c.fd, c.tail.splice(0)));
    }
    if (this.#syncing) return; // the flush's callback comes back here
    this.#compaction = undefined;
    try {
      try {
        // Flushes that outrun the rewrite's catching up: the last of the tail inline.
        if (c.tail.length > 0) {
          for (const batch of c.tail) c.bytes += writeAll(c.fd, batch);
          fdatasyncSync(c.fd);
        }
      } finally {
        closeSync(c.fd);
      }
      renameSync(c.tmp, join(this.dir, LOG_FILE));
    } catch {
      // Before the rename: the old file is still whole and still the store.
      removeQuietly(c.tmp);
      this.#compactAgainAt = 2 * this.#fileBytes;
      return;
    }
    try {
      this.#switchToRewrite(c.bytes);
    } catch (e) {
      this.#fatal = ioError(`cannot switch to the compacted storage in ${this.dir}`, e);
    }
  }

  /** `close` came first: the rewrite's own callback closes and removes its file. */
  #abandonCompaction(): void {
    const c = this.#compaction;
    if (!c) return;
    this.#compaction = undefined;
    c.abandoned = true;
    if (!c.busy && c.fd !== undefined) discardRewrite(c.fd, c.tmp);
  }
}

/** A rewrite under way in the background (`FileStorage.#compactInBackground`). */
interface Compaction {
  /** The new file, named for this process and rewrite so that no two ever share one. */
  readonly tmp: string;
  /** Batches appended to the old file that the new one does not have yet. */
  readonly tail: Uint8Array[];
  /** The new file's descriptor once created, and the bytes written to it and synced. */
  fd: number | undefined;
  bytes: number;
  /** A write or sync of the new file is on the thread pool: its callback moves things on. */
  busy: boolean;
  /** Rounds of writing the tail in the background so far (see MAX_BACKGROUND_CATCH_UPS). */
  catchUps: number;
  /** The store was closed first: whoever holds the descriptor closes it and removes the file. */
  abandoned: boolean;
}

let compactions = 0;
const openP = promisify(openAsync);
const writeP = promisify(writeAsync);
const fdatasyncP = promisify(fdatasync);
const closeP = promisify(closeAsync);

/**
 * Rounds of catching the new file up with the old one's tail off the event loop before the
 * last of it is written inline: flushes that come faster than the rewrite can copy them would
 * otherwise keep it from ever finishing. The inline part is one round's worth of writes.
 */
const MAX_BACKGROUND_CATCH_UPS = 4;

/** A rewrite's batches hold about this much each: encoding one is a short stop of the event loop. */
const REWRITE_BATCH_BYTES = 1024 * 1024;

/**
 * Writes the live data to a new file (header, then batches of about 1 MiB, each encoded just
 * before it is written) and syncs it, the I/O on the thread pool. The descriptor stays open.
 */
async function writeRewrite(tmp: string, entries: readonly [string, Uint8Array][]): Promise<{ fd: number; bytes: number }> {
  const fd = await openP(tmp, 'w');
  try {
    let bytes = await writeFully(fd, HEADER);
    for (const batch of liveBatches(entries, REWRITE_BATCH_BYTES)) bytes += await writeFully(fd, batch);
    await fdatasyncP(fd);
    return { fd, bytes };
  } catch (e) {
    await closeP(fd).catch(() => {});
    throw e;
  }
}

/** The live data as batches of about `maxBytes` each, each encoded when it is asked for. */
function* liveBatches(entries: readonly [string, Uint8Array][], maxBytes: number): Generator<Uint8Array> {
  for (let at = 0; at < entries.length; ) {
    const writes: StagedWrite[] = [];
    let size = 0;
    for (; at < entries.length && (writes.length === 0 || size < maxBytes); at++) {
      const [key, value] = entries[at] as [string, Uint8Array];
      writes.push({ key, value });
      size += recordBytes(key, value);
    }
    yield encodeBatch(writes);
  }
}

/** Appends batches to a rewrite and syncs them (the tail written to the old file meanwhile). */
async function appendAndSync(fd: number, batches: readonly Uint8Array[]): Promise<{ fd: number; bytes: number }> {
  let bytes = 0;
  for (const batch of batches) bytes += await writeFully(fd, batch);
  await fdatasyncP(fd);
  return { fd, bytes };
}

async function writeFully(fd: number, bytes: Uint8Array): Promise<number> {
  let at = 0;
  while (at < bytes.length) at += (await writeP(fd, bytes, at, bytes.length - at)).bytesWritten;
  return bytes.length;
}

function discardRewrite(fd: number, tmp: string): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed.
  }
  removeQuietly(tmp);
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Left for the next open to clear.
  }
}

/** Rewrites that a crash (or a close during one) left beside the log: never the store. */
function removeStaleRewrites(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name.startsWith(`${LOG_FILE}.`) && name.endsWith('.tmp')) removeQuietly(join(dir, name));
  }
}

const LOG_FILE = 'state.log';
const LOCK_FILE = 'LOCK';
/** `MOSAIKS` and a format version. */
const HEADER = Uint8Array.from([0x4d, 0x4f, 0x53, 0x41, 0x49, 0x4b, 0x53, 1]);
const CHECKSUM_BYTES = 8;
const COMPACT_MIN_BYTES = 1024 * 1024;

const recordBytes = (key: string, value: Uint8Array): number => 7 + key.length + value.length;

function checksum(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest().subarray(0, CHECKSUM_BYTES);
}

function encodeBatch(writes: readonly StagedWrite[]): Uint8Array {
  const records = writes.map((w) => ({ key: Buffer.from(w.key, 'utf8'), value: w.value }));
  let size = 0;
  for (const { key, value } of records) size += 3 + key.length + (value === null ? 0 : 4 + value.length);
  const out = Buffer.alloc(4 + size + CHECKSUM_BYTES);
  out.writeUInt32BE(size, 0);
  let at = 4;
  for (const { key, value } of records) {
    out[at++] = value === null ? 0 : 1;
    out.writeUInt16BE(key.length, at);
    at += 2;
    out.set(key, at);
    at += key.length;
    if (value !== null) {
      out.writeUInt32BE(value.length, at);
      at += 4;
      out.set(value, at);
      at += value.length;
    }
  }
  out.set(checksum(out.subarray(4, 4 + size)), 4 + size);
  return out;
}

/** The writes of every whole batch, and where the whole batches end. */
function parseLog(bytes: Uint8Array, path: string): { entries: { key: string; value: Uint8Array | null }[]; validBytes: number } {
  const corrupted = (at: number, why: string) => new StorageError('corrupted', `${path} is damaged at byte ${at}: ${why}`);
  if (bytes.length < HEADER.length) {
    // A crash while the header itself was written: nothing was ever stored.
    if (HEADER.subarray(0, bytes.length).every((b, i) => bytes[i] === b)) return { entries: [], validBytes: 0 };
    throw corrupted(0, 'not a mosaik storage file');
  }
  if (!HEADER.every((b, i) => bytes[i] === b)) throw corrupted(0, 'not a mosaik storage file (or another format version)');
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const entries: { key: string; value: Uint8Array | null }[] = [];
  let at = HEADER.length;
  while (at < bytes.length) {
    if (at + 4 > bytes.length) break; // torn: the length itself is incomplete
    const size = view.readUInt32BE(at);
    const end = at + 4 + size + CHECKSUM_BYTES;
    if (end > bytes.length || !checksum(bytes.subarray(at + 4, at + 4 + size)).every((b, i) => bytes[at + 4 + size + i] === b)) {
      if (end < bytes.length) throw corrupted(at, 'a batch fails its checksum and more follow it');
      // Torn: the last batch, half written, runs past the end or fails its checksum. Unless
      // its length is what is damaged: its records then end in their checksum before the
      // end of the file, and the batches after it are not to be dropped with it.
      const wholeEnd = wholeBatchEnd(bytes, at + 4);
      if (wholeEnd !== undefined && wholeEnd < bytes.length) throw corrupted(at, 'the length of a batch is damaged and more follow it');
      break;
    }
    const records = bytes.subarray(at + 4, at + 4 + size);
    parseRecords(records, at + 4, entries, corrupted);
    at = end;
  }
  return { entries, validBytes: at };
}

/**
 * Where a batch whose records begin at `start` ends if, whatever its length says, one of its
 * records is followed by the checksum of the records up to it: undefined if none is before
 * the bytes stop reading as records.
 */
function wholeBatchEnd(bytes: Uint8Array, start: number): number | undefined {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const hash = createHash('sha256');
  for (let at = start; ; ) {
    const op = bytes[at];
    if ((op !== 0 && op !== 1) || at + 3 > bytes.length) return undefined;
    let next = at + 3 + view.readUInt16BE(at + 1);
    if (op === 1) next = next + 4 > bytes.length ? bytes.length + 1 : next + 4 + view.readUInt32BE(next);
    if (next + CHECKSUM_BYTES > bytes.length) return undefined;
    hash.update(bytes.subarray(at, next));
    at = next;
    if (
      hash
        .copy()
        .digest()
        .subarray(0, CHECKSUM_BYTES)
        .every((b, i) => bytes[at + i] === b)
    )
      return at + CHECKSUM_BYTES;
  }
}

function parseRecords(
  records: Uint8Array,
  offset: number,
  out: { key: string; value: Uint8Array | null }[],
  corrupted: (at: number, why: string) => StorageError,
): void {
  const view = Buffer.from(records.buffer, records.byteOffset, records.length);
  let at = 0;
  while (at < records.length) {
    const op = records[at];
    if ((op !== 0 && op !== 1) || at + 3 > records.length) throw corrupted(offset + at, 'a bad record in a whole batch');
    const keyLength = view.readUInt16BE(at + 1);
    at += 3;
    if (at + keyLength > records.length) throw corrupted(offset + at, 'a key runs past its batch');
    const key = view.toString('utf8', at, at + keyLength);
    at += keyLength;
    if (op === 0) {
      out.push({ key, value: null });
      continue;
    }
    if (at + 4 > records.length) throw corrupted(offset + at, 'a value length runs past its batch');
    const valueLength = view.readUInt32BE(at);
    at += 4;
    if (at + valueLength > records.length) throw corrupted(offset + at, 'a value runs past its batch');
    out.push({ key, value: new Uint8Array(records.subarray(at, at + valueLength)) }); // a copy: the file buffer is let go
    at += valueLength;
  }
}

function writeAll(fd: number, bytes: Uint8Array): number {
  let at = 0;
  while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
  return bytes.length;
}

function readIfExists(path: string): Uint8Array | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(`cannot read ${path}`, e);
  }
}

function openOrThrow(path: string, flags: string): number {
  try {
    return openSync(path, flags);
  } catch (e) {
    throw ioError(`cannot open ${path}`, e);
  }
}

/** Makes a rename durable (POSIX: the directory entry is data of the directory). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not every platform can sync a directory; the rename itself is atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The directories (their real paths) whose lock this process holds. A `LOCK` with this
 * process's pid that is not one of them was left by an earlier process with the same pid:
 * in a container, a node restarted after a crash usually gets the pid it had.
 */
const lockedHere = new Set<string>();

function takeLock(dir: string): void {
  const path = join(dir, LOCK_FILE);
  const here = realpathOrSelf(dir);
  if (lockedHere.has(here)) throw new StorageError('locked', `${dir} is already open in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      lockedHere.add(here);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(`cannot lock ${dir}`, e);
    }
    let owner: number;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile
      throw ioError(`cannot lock ${dir}`, e);
    }
    if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
      throw new StorageError('locked', `${dir} is in use by process ${owner}`);
    }
    try {
      rmSync(path, { force: true }); // its owner is gone: a crash left it behind
    } catch (e) {
      throw ioError(`cannot lock ${dir}`, e);
    }
  }
  throw new StorageError('locked', `cannot lock ${dir}: another process keeps taking the lock`);
}

function releaseLock(dir: string): void {
  lockedHere.delete(realpathOrSelf(dir));
  try {
    const path = join(dir, LOCK_FILE);
    if (Number.parseInt(readFileSync(path, 'utf8'), 10) === process.pid) rmSync(path, { force: true });
  } catch {
    // Already gone.
  }
}

function realpathOrSelf(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
  }
}

function ioError(message: string, cause: unknown): StorageError {
  return new StorageError('io', `${message}: ${cause instanceof Error ? cause.message : String(cause)}`);
}
