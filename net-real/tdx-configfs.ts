import { mkdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { QuoteGenerationError, type QuoteProvider, TdxUnavailableError } from '../api/tickets.ts';
import { REPORT_DATA_BYTES } from '../core/tickets/tdx/quote.ts';

/**
 * TDX quotes from the Linux configfs-tsm interface (kernel ≥ 6.7, inside a TDX guest):
 * make a report directory, write 64 bytes of report data to `inblob`, read the quote from
 * `outblob`, and check `generation` to be sure no other writer raced us. Only usable where
 * the hardware exists; elsewhere `available()` is false and `quote()` rejects with
 * TdxUnavailableError.
 */

export const DEFAULT_TSM_REPORT_DIR = '/sys/kernel/config/tsm/report';

export interface ConfigfsTsmOptions {
  /** @defaultValue '/sys/kernel/config/tsm/report' */
  readonly reportDir?: string;
}

let nextEntry = 0;

export class ConfigfsTsmQuoteProvider implements QuoteProvider {
  readonly reportDir: string;

  constructor(options: ConfigfsTsmOptions = {}) {
    this.reportDir = options.reportDir ?? DEFAULT_TSM_REPORT_DIR;
  }

  async available(): Promise<boolean> {
    try {
      return (await stat(this.reportDir)).isDirectory();
    } catch {
      return false;
    }
  }

  async quote(reportData: Uint8Array, options: { readonly signal?: AbortSignal } = {}): Promise<Uint8Array> {
    if (reportData.length !== REPORT_DATA_BYTES) throw new QuoteGenerationError(`report data must be ${REPORT_DATA_BYTES} bytes, got ${reportData.length}`);
    if (!(await this.available())) throw new TdxUnavailableError(`no configfs-tsm report directory at ${this.reportDir} (not a TDX guest?)`);
    options.signal?.throwIfAborted();
    const entry = posix.join(this.reportDir, `mosaik-${process.pid}-${nextEntry++}`);
    try {
      await mkdir(entry);
    } catch (e) {
      throw new TdxUnavailableError(`cannot create ${entry}: ${(e as Error).message}`);
    }
    try {
      const provider = (await readFile(posix.join(entry, 'provider'), 'utf8')).trim();
      if (provider !== 'tdx_guest') throw new TdxUnavailableError(`configfs-tsm provider is ${JSON.stringify(provider)}, not tdx_guest`);
      await writeFile(posix.join(entry, 'inblob'), reportData);
      const before = Number((await readFile(posix.join(entry, 'generation'), 'utf8')).trim());
      options.signal?.throwIfAborted();
      const quote = new Uint8Array(await readFile(posix.join(entry, 'outblob')));
      const after = Number((await readFile(posix.join(entry, 'generation'), 'utf8')).trim());
      if (before !== after) throw new QuoteGenerationError(`configfs-tsm generation changed (${before} → ${after}): another writer raced this quote`);
      if (quote.length === 0) throw new QuoteGenerationError('configfs-tsm returned an empty quote');
      return quote;
    } catch (e) {
      if (e instanceof TdxUnavailableError || e instanceof QuoteGenerationError) throw e;
      if ((e as Error).name === 'AbortError') throw e;
      throw new QuoteGenerationError(`configfs-tsm: ${(e as Error).message}`);
    } finally {
      await rmdir(entry).catch(() => {});
    }
  }
}
