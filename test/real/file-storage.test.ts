import { spawnSync } from 'node:child_process';
import fs, { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../core/errors.ts';
import { FileStorage } from '../../net-real/file-storage.ts';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mosaik-storage-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const bytes = (...b: number[]) => Uint8Array.from(b);
const logOf = (dir: string) => join(dir, 'state.log');

/** Writes each batch with a flush of its own (`null` deletes), then closes the store. */
function writeBatches(dir: string, ...batches: Record<string, Uint8Array | null>[]): void {
  const s = FileStorage.open(dir);
  for (const batch of batches) {
    for (const [key, value] of Object.entries(batch)) s.stage(key, value);
    s.flush();
  }
  s.close();
}

/** What a store opened on `dir` now holds. */
function storedIn(dir: string): Map<string, Uint8Array> {
  const s = FileStorage.open(dir);
  const entries = s.entries();
  s.close();
  return entries;
}

function storageErrorOf(f: () => unknown): StorageError {
  try {
    f();
  } catch (e) {
    if (e instanceof StorageError) return e;
    throw e;
  }
  throw new Error('expected a StorageError');
}

describe('FileStorage', () => {
  it('keeps what was flushed across a close and reopen, deletes included', () => {
    const dir = freshDir();
    const a = FileStorage.open(dir);
    a.stage('groups/g/hs', bytes(1, 2, 3));
    a.stage('groups/g/e/1', bytes(4));
    a.stage('groups/g/e/2', bytes(5));
    a.flush();
    a.stage('groups/g/e/2', null);
    a.stage('groups/g/hs', bytes(9));
    a.stage('ünïcode/key', new Uint8Array(0));
    a.flush();
    a.close();
    const b = FileStorage.open(dir);
    expect(b.entries()).toEqual(
      new Map([
        ['groups/g/hs', bytes(9)],
        ['groups/g/e/1', bytes(4)],
        ['ünïcode/key', new Uint8Array(0)],
      ]),
    );
    b.close();
  });

  it('loses nothing that was flushed when the process dies, and only what was not', () => {
    const dir = freshDir();
    // A child process writes, flushes, stages more, and dies without closing.
    const script = `
      import { FileStorage } from ${JSON.stringify(new URL('../../net-real/file-storage.ts', import.meta.url).pathname)};
      const s = FileStorage.open(${JSON.stringify(dir)});
      s.stage('kept', Uint8Array.from([1])); s.flush();
      s.stage('never flushed', Uint8Array.from([2]));
      process.kill(process.pid, 'SIGKILL');`;
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'inherit' });
    // Its lock is left behind, held by a process that is gone: it is taken over.
    const s = FileStorage.open(dir);
    expect(s.entries()).toEqual(new Map([['kept', bytes(1)]]));
    s.close();
  });

  it('drops a half-written last batch (a crash during a flush), and writes on after it', () => {
    const dir = freshDir();
    writeBatches(dir, { one: bytes(1) }, { two: bytes(2, 2) });
    const whole = readFileSync(logOf(dir));
    for (let cut = 1; cut < 20; cut++) {
      writeFileSync(logOf(dir), whole.subarray(0, whole.length - cut));
      expect(storedIn(dir)).toEqual(new Map([['one', bytes(1)]]));
      writeBatches(dir, { three: bytes(3) });
      expect(storedIn(dir)).toEqual(
        new Map([
          ['one', bytes(1)],
          ['three', bytes(3)],
        ]),
      );
    }
  });

  it('drops a last batch whose bytes are damaged, but refuses damage with batches after it', () => {
    const dir = freshDir();
    writeBatches(dir, { one: bytes(1) }, { two: bytes(2) });
    const whole = readFileSync(logOf(dir));
    // The last byte of the value of 'two' (its batch is the last thing in the file).
    const lastDamaged = Buffer.from(whole);
    lastDamaged[whole.length - 9] = (lastDamaged[whole.length - 9] as number) ^ 0xff;
    writeFileSync(logOf(dir), lastDamaged);
    expect(storedIn(dir)).toEqual(new Map([['one', bytes(1)]]));
    // The value of 'one', in the first batch, with the second after it: never silently skipped.
    const firstDamaged = Buffer.from(whole);
    firstDamaged[8 + 4 + 3 + 3 + 4] = 0x7f;
    writeFileSync(logOf(dir), firstDamaged);
    const error = storageErrorOf(() => FileStorage.open(dir));
    expect(error.reason).toBe('corrupted');
    expect(error.message).toMatch(/byte 8: a batch fails its checksum and more follow it/);
    // The length of the first batch, made to run past the end of the file: not a torn last
    // batch (its records end in their checksum, and more follow), so not dropped with all
    // that follows it.
    for (const at of [8, 9, 10]) {
      const lengthDamaged = Buffer.from(whole);
      lengthDamaged[at] = 0x01;
      writeFileSync(logOf(dir), lengthDamaged);
      expect(storageErrorOf(() => FileStorage.open(dir)).message).toMatch(/byte 8: the length of a batch is damaged and more follow it/);
    }
    // A file that is not a storage log at all.
    writeFileSync(logOf(dir), 'hello world, not a log');
    expect(storageErrorOf(() => FileStorage.open(dir)).reason).toBe('corrupted');
  });

  it('takes no more writes once one failed: none could follow a part of a batch that the next open drops', async () => {
    const dir = freshDir();
    const s = FileStorage.open(dir);
    s.stage('one', bytes(1));
    s.flush();
    // The disk fills up during the next batch: half of it is written, then ENOSPC.
    const writeSync = fs.writeSync;
    try {
      fs.writeSync = ((fd: number, buffer: Uint8Array, offset: number, length: number) => {
        writeSync(fd, buffer, offset, Math.ceil(length / 2));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }) as unknown as typeof fs.writeSync;
      syncBuiltinESMExports();
      s.stage('two', new Uint8Array(1000).fill(2));
      expect(storageErrorOf(() => s.flush()).message).toMatch(/ENOSPC/);
    } finally {
      fs.writeSync = writeSync;
      syncBuiltinESMExports();
    }
    // Space again: a write now would land after the torn half and be dropped with it.
    s.stage('three', bytes(3));
    expect(storageErrorOf(() => s.flush()).message).toMatch(/ENOSPC/);
    s.stage('three', bytes(3));
    await expect(s.flushAsync()).rejects.toBeInstanceOf(StorageError);
    expect(() => s.close()).toThrow(StorageError);
    expect(storedIn(dir)).toEqual(new Map([['one', bytes(1)]]));
  });

  it('flushes asynchronously too: stored once the promise resolves, and kept by a close that comes first', async () => {
    const dir = freshDir();
    const a = FileStorage.open(dir);
    a.stage('one', bytes(1));
    await a.flushAsync();
    a.stage('two', bytes(2));
    const second = a.flushAsync();
    await expect(a.flushAsync()).resolves.toBeUndefined(); // nothing staged: nothing to do
    a.stage('three', bytes(3));
    expect(() => a.flush()).toThrow(StorageError); // one flush at a time
    a.close(); // while 'two' is being synced, with 'three' still staged
    await second;
    expect(storedIn(dir)).toEqual(
      new Map([
        ['one', bytes(1)],
        ['two', bytes(2)],
        ['three', bytes(3)],
      ]),
    );
  });

  it('is held by one owner at a time', () => {
    const dir = freshDir();
    const a = FileStorage.open(dir);
    const error = storageErrorOf(() => FileStorage.open(dir));
    expect(error.reason).toBe('locked');
    a.close();
    FileStorage.open(dir).close();
    // A lock left by a live process (our parent's pid stands for one) is respected.
    writeFileSync(join(dir, 'LOCK'), `${process.ppid}\n`);
    expect(storageErrorOf(() => FileStorage.open(dir)).reason).toBe('locked');
  });

  it("takes over a lock with its own pid that an earlier process left (a container's restart), and refuses a LOCK it cannot read", () => {
    const dir = freshDir();
    writeBatches(dir, { one: bytes(1) });
    writeFileSync(join(dir, 'LOCK'), `${process.pid}\n`); // not opened by this process
    const a = FileStorage.open(dir);
    expect(a.get('one')).toEqual(bytes(1));
    expect(storageErrorOf(() => FileStorage.open(dir)).reason).toBe('locked'); // this process's own lock is kept
    a.close();
    rmSync(join(dir, 'LOCK'), { force: true });
    mkdirSync(join(dir, 'LOCK'));
    const error = storageErrorOf(() => FileStorage.open(dir));
    expect(error.reason).toBe('io');
    expect(error.message).toMatch(/cannot lock/);
  });

  it('rewrites its file when it grows past four times the live data, keeping every value', () => {
    const dir = freshDir();
    const s = FileStorage.open(dir);
    const value = new Uint8Array(10_000).fill(7);
    for (let i = 0; i < 1_000; i++) {
      s.stage(`key/${i % 10}`, value);
      s.stage(`counter`, bytes(i & 0xff, i >> 8));
      s.flush();
    }
    // 10 MB written, 100 KB live: the file stays within the bound.
    expect(statSync(logOf(dir)).size).toBeLessThan(Math.max(1024 * 1024, 4 * 100_000) + 20_000);
    s.close();
    const again = FileStorage.open(dir);
    expect(again.entries().size).toBe(11);
    expect(again.get('counter')).toEqual(bytes(999 & 0xff, 999 >> 8));
    expect(again.get('key/3')).toEqual(value);
    again.close();
  });

  it('survives a crash between the rewrite and its rename (the old file is whole)', () => {
    const dir = freshDir();
    writeBatches(dir, { k: bytes(1) });
    // What a crash during compaction leaves: a partial temporary file beside the log.
    appendFileSync(`${logOf(dir)}.tmp`, 'MOSAIKS');
    expect(storedIn(dir)).toEqual(new Map([['k', bytes(1)]]));
  });
});

describe('FileStorage compaction in the background (after flushAsync)', () => {
  const value = new Uint8Array(20_000).fill(7);
  const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 10));

  /** Flushes (async) overwrites of 10 keys until a background rewrite starts. */
  async function growUntilCompacting(s: FileStorage): Promise<number> {
    for (let i = 0; i < 10_000; i++) {
      s.stage(`key/${i % 10}`, value);
      s.stage('counter', bytes(i & 0xff, i >> 8));
      await s.flushAsync();
      if (s.compacting) return i;
    }
    throw new Error('no compaction started');
  }

  it('keeps every write made while the rewrite runs, and the file shrinks', async () => {
    const dir = freshDir();
    const s = FileStorage.open(dir);
    const last = await growUntilCompacting(s);
    // Flushes go on while the rewrite is written and synced: they land in the old file and
    // must reach the new one too.
    let during = 0;
    while (s.compacting) {
      s.stage(`during/${during}`, bytes(during & 0xff));
      s.stage('key/0', bytes(during & 0xff, 0xaa));
      await s.flushAsync();
      during++;
      if (during > 5_000) throw new Error('the rewrite never finished');
    }
    expect(during).toBeGreaterThan(0);
    expect(statSync(logOf(dir)).size).toBeLessThan(1024 * 1024);
    s.stage('after', bytes(1));
    await s.flushAsync();
    s.close();
    const again = FileStorage.open(dir);
    expect(again.get('counter')).toEqual(bytes(last & 0xff, last >> 8));
    expect(again.get('key/3')).toEqual(value);
    expect(again.get('key/0')).toEqual(bytes((during - 1) & 0xff, 0xaa));
    for (let i = 0; i < during; i++) expect(again.get(`during/${i}`)).toEqual(bytes(i & 0xff));
    expect(again.get('after')).toEqual(bytes(1));
    again.close();
  });

  it('gives way to a close: everything flushed is kept, and no rewrite file is left', async () => {
    const dir = freshDir();
    const s = FileStorage.open(dir);
    const last = await growUntilCompacting(s);
    s.stage('staged at close', bytes(5));
    s.close();
    // The rewrite's write is still on the thread pool: its callback removes the file.
    for (let i = 0; i < 1_000 && readdirSync(dir).some((n) => n.endsWith('.tmp')); i++) await pause();
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const again = FileStorage.open(dir);
    expect(again.get('counter')).toEqual(bytes(last & 0xff, last >> 8));
    expect(again.get('staged at close')).toEqual(bytes(5));
    again.close();
  });

  it.each(['while the rewrite runs', 'just after the switch'])('loses nothing flushed when the process dies %s', (when) => {
    const dir = freshDir();
    // A child grows the store until a rewrite is under way, flushes a few more batches (the
    // tail), reports how far it got, and dies: at once, or once the new file has replaced the old.
    const script = `
      import { FileStorage } from ${JSON.stringify(new URL('../../net-real/file-storage.ts', import.meta.url).pathname)};
      const s = FileStorage.open(${JSON.stringify(dir)});
      const value = new Uint8Array(20000).fill(7);
      let i = 0;
      for (; !s.compacting; i++) { s.stage('key/' + (i % 10), value); s.stage('n', Uint8Array.from([i & 0xff, i >> 8])); await s.flushAsync(); }
      for (let j = 0; j < 3; j++, i++) { s.stage('n', Uint8Array.from([i & 0xff, i >> 8])); await s.flushAsync(); }
      if (${JSON.stringify(when)} === 'just after the switch') while (s.compacting) await new Promise((r) => setTimeout(r, 5));
      process.stdout.write(String(i - 1));
      process.kill(process.pid, 'SIGKILL');`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    const lastFlushed = Number(child.stdout);
    expect(Number.isInteger(lastFlushed) && lastFlushed > 0).toBe(true);
    const s = FileStorage.open(dir);
    expect(s.get('n')).toEqual(bytes(lastFlushed & 0xff, lastFlushed >> 8));
    expect(s.get('key/9')).toEqual(value);
    s.close();
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
