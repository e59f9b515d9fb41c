/**
 * Typed access to the native QUIC endpoint of `@chainsafe/libp2p-quic` (quinn, via napi-rs),
 * used without a libp2p node. The package types these classes as `any` and does not export
 * the module that holds them, so this file is the one place that touches them untyped; the
 * rest of the driver sees only the interfaces below, checked against 1.1.8's native classes.
 *
 * Every async method rejects with an `Error` whose message is quinn's (e.g. `timed out`,
 * `connection lost`, `stream reset by peer: error 0`), with `code` `Unknown` or
 * `GenericFailure`; callers classify by message.
 */

/** Quinn endpoint settings; every field is required by the native constructor. */
export interface QuinnConfigInit {
  /** libp2p PrivateKey protobuf of this node's identity (see `peer-id.ts`). */
  readonly privateKeyProto: Uint8Array;
  /** ms; quinn's effective floor for a silent peer is about 3 s (3 × the initial PTO). */
  readonly handshakeTimeout: number;
  /** ms of silence before a connection is considered lost. */
  readonly maxIdleTimeout: number;
  /** ms between keep-alive packets; must be below both peers' idle timeouts. */
  readonly keepAliveInterval: number;
  /** Bidirectional streams a peer may have open at once on one connection. */
  readonly maxConcurrentStreamLimit: number;
  /** Unacknowledged bytes in flight per stream. */
  readonly maxStreamData: number;
  /** Unacknowledged bytes in flight per connection. */
  readonly maxConnectionData: number;
  readonly receiveBufferSize: number;
  readonly sendBufferSize: number;
}

/** An opaque native config, shared by a node's server and client endpoints. */
export interface QuinnConfig {
  readonly __brand: 'QuinnConfig';
}

export interface QuicServer {
  /** The bound UDP port (useful after binding port 0). */
  port(): number;
  /** The next handshaken inbound connection; rejects `server closed` after `abort`. */
  inboundConnection(): Promise<QuicConnection>;
  /** Closes every connection and the socket; resolves once the endpoint is idle. */
  abort(): Promise<void>;
}

export interface QuicClient {
  /** Dials `ip` (an IP literal, not a host name) and completes the mutual TLS handshake. */
  outboundConnection(ip: string, port: number): Promise<QuicConnection>;
  /** Closes every connection made by this client. */
  abort(): void;
}

export interface QuicConnection {
  /** The next bidirectional stream the peer opened; rejects once the connection is gone. */
  inboundStream(): Promise<QuicStream>;
  outboundStream(): Promise<QuicStream>;
  /** Closes the connection at once (unsent stream data is dropped). */
  abort(): void;
  /** Smoothed RTT, whole ms. */
  rtt(): number;
  id(): string;
  /** e.g. `/ip4/127.0.0.1/udp/4433/quic-v1/p2p/12D3KooW…`: the TLS-authenticated peer. */
  remoteMultiaddr(): string;
  /** Resolves when the connection ends, for whatever reason. */
  closed(): Promise<void>;
}

export interface QuicStream {
  id(): string;
  /** Up to `maxBytes` bytes as they arrived, or `null` at the peer's FIN. */
  read(maxBytes: number): Promise<Uint8Array | null>;
  /** Resolves once quinn has taken all of `data` (not when the peer has it). */
  write(data: Uint8Array): Promise<void>;
  /** Sends FIN after the data already written. */
  finishWrite(): Promise<void>;
  /** Abandons the send side; unsent data is dropped, the peer's reads fail. */
  resetWrite(): Promise<void>;
  /** Asks the peer to stop sending; its writes fail. */
  stopRead(): Promise<void>;
}

export type SocketFamily = 'ipv4' | 'ipv6';

export interface QuicNative {
  config(init: QuinnConfigInit): QuinnConfig;
  /** Binds `ip:port` (throws synchronously, e.g. on EADDRINUSE or a non-IP host). */
  server(config: QuinnConfig, ip: string, port: number): QuicServer;
  /** An endpoint for dialing, bound to an ephemeral port of the family's wildcard address. */
  client(config: QuinnConfig, family: SocketFamily): QuicClient;
}

/** The raw module as far as we use it; instances are checked against the interfaces above. */
interface RawModule {
  readonly QuinnConfig: new (init: QuinnConfigInit) => unknown;
  readonly Server: new (config: QuinnConfig, ip: string, port: number) => unknown;
  /** `family`: 0 = IPv4, 1 = IPv6 (the native `SocketFamily` enum). */
  readonly Client: new (
    config: QuinnConfig,
    family: 0 | 1,
  ) => unknown;
}

let loading: Promise<QuicNative> | undefined;

/**
 * Loads the native module once. Loaded lazily (and only by `net-real/`) so that the simulator
 * and the core never pull in the binary.
 */
export function loadQuic(): Promise<QuicNative> {
  loading ??= load();
  return loading;
}

async function load(): Promise<QuicNative> {
  // `dist/src/napi.js` is not in the package's `exports`, so resolve the package entry and
  // step beside it.
  const url = new URL('./napi.js', import.meta.resolve('@chainsafe/libp2p-quic'));
  const raw = (await import(url.href)) as RawModule;
  return {
    config: (init) => new raw.QuinnConfig(init) as QuinnConfig,
    server: (config, ip, port) => new raw.Server(config, ip, port) as QuicServer,
    client: (config, family) => new raw.Client(config, family === 'ipv4' ? 0 : 1) as QuicClient,
  };
}
