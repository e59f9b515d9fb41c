// The part of bittorrent-dht 11 (which ships no types) that net-real/dht.ts uses.
declare module 'bittorrent-dht' {
  import { EventEmitter } from 'node:events';

  interface DHTOptions {
    bootstrap?: string[] | false;
    host?: string | false;
    verify?: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;
  }

  interface MutableItem {
    v?: unknown;
    seq?: number;
    k?: Uint8Array;
    sig?: Uint8Array;
  }

  interface PutOptions {
    k: Uint8Array;
    v: unknown;
    seq: number;
    cas?: number;
    salt?: Uint8Array;
    sign: (message: Uint8Array) => Uint8Array;
  }

  export default class DHT extends EventEmitter {
    constructor(options?: DHTOptions);
    readonly listening: boolean;
    listen(port?: number, host?: string, callback?: () => void): void;
    address(): { address: string; family: string; port: number };
    get(target: Uint8Array, callback: (error: Error | null, item?: MutableItem | null) => void): void;
    put(options: PutOptions, callback: (error: Error | null, hash?: Uint8Array, nodes?: number) => void): void;
    destroy(callback?: () => void): void;
  }
}
