import { createSocket, type Socket } from 'node:dgram';
import { CloseCode, ClosedError, ConnectError, type CreateNetworkOptions, Digest, LinkClosedError, Network, SecretKey, TimeoutError } from 'mosaik';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { HANDSHAKE_VERSION, handshakeCodec } from '../../core/node/link-handshake.ts';
import { Protocols } from '../../core/wire/protocol.ts';
import { closeFrame, dataFrameHeader, type LinkFrame, LinkFrameDecoder } from '../../net-real/link-framing.ts';
import { loadQuic, type QuicClient, type QuicConnection, type QuicServer, type QuicStream, type QuinnConfigInit } from '../../net-real/quic/napi.ts';
import { privateKeyProto } from '../../net-real/quic/peer-id.ts';

// Two (or three) nodes in this process on 127.0.0.1, talking real QUIC.

const open: Network[] = [];
const errors: unknown[] = [];

async function node(options: Partial<CreateNetworkOptions> = {}): Promise<Network> {
  const net = await Network.create({ network: 'quic-test', onError: (error) => errors.push(error), ...options });
  open.push(net);
  return net;
}

function location(addr: string): string {
  return addr.slice(addr.indexOf('@') + 1);
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((net) => net.close()));
  expect(errors).toEqual([]); // no internal error (bug) was reported by the driver
});

/** A bare QUIC client (no node machine), to speak to a node the way a hostile peer could. */
async function rawClient(seed: string, clients: QuicClient[], overrides: Partial<QuinnConfigInit> = {}) {
  const quic = await loadQuic();
  const config = quic.config({
    privateKeyProto: privateKeyProto(SecretKey.fromSeed(seed)),
    handshakeTimeout: 2000,
    maxIdleTimeout: 5000,
    keepAliveInterval: 1000,
    maxConcurrentStreamLimit: 16,
    maxStreamData: 1_000_000,
    maxConnectionData: 2_000_000,
    receiveBufferSize: 500_000,
    sendBufferSize: 500_000,
    ...overrides,
  });
  const client = quic.client(config, 'ipv4');
  clients.push(client);
  return client;
}

/** The framed link hello a node sends to open a ping link on `network`. */
function pingHello(network: string): Uint8Array {
  const hello = handshakeCodec.encode({
    t: 'hello',
    v: HANDSHAKE_VERSION,
    protocol: Protocols.ping,
    network: Digest.from(network),
    nonce: new Uint8Array(32),
    maxFrame: 1 << 20,
  });
  return new Uint8Array([...dataFrameHeader(hello.length), ...hello]);
}

describe('QUIC driver, in one process', () => {
  it('pings both directions over one connection', async () => {
    const a = await node();
    const b = await node();
    expect(a.addr).toMatch(/^[0-9a-f]{64}@127\.0\.0\.1:\d+$/);
    for (let i = 0; i < 5; i++) {
      const ab = await a.ping(b.addr, { timeoutMs: 3000 });
      expect(ab.peer.equals(b.peerId)).toBe(true);
      expect(ab.rttMs).toBeGreaterThanOrEqual(0);
      const ba = await b.ping(a.addr, { timeoutMs: 3000 });
      expect(ba.peer.equals(a.peerId)).toBe(true);
      expect(ba.rttMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('carries a burst of concurrent pings (frames coalesce into few writes)', async () => {
    const a = await node();
    const b = await node();
    const results = await Promise.all(Array.from({ length: 2000 }, () => a.ping(b.addr, { timeoutMs: 10_000 })));
    expect(results).toHaveLength(2000);
    expect(results.every((r) => r.rttMs >= 0)).toBe(true);
  });

  it('rejects an address whose peer id is not the key at that location: ConnectError peer-mismatch', async () => {
    const a = await node();
    const b = await node();
    const impostor = SecretKey.fromSeed('not b').peerId;
    const error = await a.ping(`${impostor.hex}@${location(b.addr)}`, { timeoutMs: 3000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).reason).toBe('peer-mismatch');
    // The real b is still reachable.
    await expect(a.ping(b.addr, { timeoutMs: 3000 })).resolves.toMatchObject({ rttMs: expect.any(Number) });
  });

  it('refuses links between different networks: LinkClosedError DifferentNetwork', async () => {
    const a = await node({ network: 'network-one' });
    const b = await node({ network: 'network-two' });
    const error = await a.ping(b.addr, { timeoutMs: 3000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LinkClosedError);
    expect((error as LinkClosedError).closeCode).toBe(CloseCode.DifferentNetwork);
    expect((error as LinkClosedError).closeCode).toBe(101);
  });

  describe('a dead address', () => {
    let silent: Socket | undefined;
    afterAll(() => silent?.close());

    it('rejects within the ping timeout', async () => {
      // A bound UDP socket that never answers: nobody else can take the port meanwhile.
      silent = createSocket('udp4');
      await new Promise<void>((resolve) => silent?.bind(0, '127.0.0.1', resolve));
      const port = silent.address().port;
      const a = await node({ quic: { handshakeTimeoutMs: 300 } });
      const target = `${SecretKey.fromSeed('nobody').peerId.hex}@127.0.0.1:${port}`;
      const started = performance.now();
      const error = await a.ping(target, { timeoutMs: 1500 }).catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      expect(error instanceof ConnectError || error instanceof TimeoutError).toBe(true);
      expect(elapsed).toBeLessThan(1500 + 250);
      // With the QUIC handshake bounded at 300 ms, the dial itself fails first.
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).reason).toBe('timeout');
    });

    it('rejects a malformed location as unreachable', async () => {
      const a = await node();
      const error = await a.ping(`${SecretKey.fromSeed('x').peerId.hex}@no-port-here`, { timeoutMs: 1500 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConnectError);
      expect((error as ConnectError).reason).toBe('unreachable');
    });
  });

  describe('a raw QUIC peer sending garbage', () => {
    const clients: QuicClient[] = [];
    const sockets: Socket[] = [];
    const servers: QuicServer[] = [];
    afterAll(async () => {
      for (const client of clients) client.abort();
      for (const socket of sockets) socket.close();
      await Promise.all(servers.map((server) => server.abort()));
    });

    /** Reads a stream until it ends or fails; returns the link frames seen and how it ended. */
    async function readAll(stream: QuicStream): Promise<{ frames: LinkFrame[]; end: 'fin' | 'error' }> {
      const decoder = new LinkFrameDecoder(1 << 20);
      const frames: LinkFrame[] = [];
      for (;;) {
        try {
          const chunk = await stream.read(65_536);
          if (chunk === null) return { frames, end: 'fin' };
          frames.push(...decoder.push(chunk).frames);
        } catch {
          return { frames, end: 'error' };
        }
      }
    }

    it('gets its streams closed, and the node keeps serving', async () => {
      const target = await node({ maxFrameBytes: 128 * 1024 });
      const other = await node();
      const client = await rawClient('raw client', clients);
      const port = Number(location(target.addr).split(':')[1]);
      const conn = await client.outboundConnection('127.0.0.1', port);

      // 1. A length prefix far above maxFrameBytes: the stream is reset at once.
      const oversized = await conn.outboundStream();
      await oversized.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0]));
      expect(await readAll(oversized)).toEqual({ frames: [], end: 'error' });

      // 1b. A first frame far larger than any hello, yet within maxFrameBytes: reset at once,
      //     before the node buffers it (it held up to maxFrameBytes per stream until the
      //     handshake timeout, for peers that had not even said which network they are on).
      const bigHello = await conn.outboundStream();
      await bigHello.write(new Uint8Array([...dataFrameHeader(100 * 1024), 0xc1, 0xc1]));
      expect(await readAll(bigHello)).toEqual({ frames: [], end: 'error' });

      // 2. An unknown frame kind: same.
      const unknownKind = await conn.outboundStream();
      await unknownKind.write(new Uint8Array([0, 0, 0, 3, 9, 9, 9]));
      expect((await readAll(unknownKind)).end).toBe('error');

      // 3. Well-framed garbage where the link handshake belongs: the node's machine closes
      //    the link with a close frame (ProtocolViolation), then ends its side.
      const badHello = await conn.outboundStream();
      const garbage = new Uint8Array([0xc1, 0xc1, 0xc1]);
      await badHello.write(new Uint8Array([...dataFrameHeader(garbage.length), ...garbage]));
      const answer = await readAll(badHello);
      expect(answer.frames).toHaveLength(1);
      expect(answer.frames[0]).toMatchObject({ kind: 'close', code: CloseCode.ProtocolViolation });
      expect(answer.end).toBe('fin');
      await badHello.finishWrite();

      // 4. A stream that ends without a close frame (the node sees a lost link, quietly).
      const abrupt = await conn.outboundStream();
      await abrupt.write(closeFrame(CloseCode.Success, 'not even open').subarray(0, 3));
      await abrupt.finishWrite();

      // The node still serves everyone, including pings on the same connection's peer.
      await expect(other.ping(target.addr, { timeoutMs: 3000 })).resolves.toMatchObject({ rttMs: expect.any(Number) });
      await expect(target.ping(other.addr, { timeoutMs: 3000 })).resolves.toMatchObject({ rttMs: expect.any(Number) });
      conn.abort();
    });

    it('cannot keep other peers from connecting by stalling QUIC handshakes', async () => {
      const target = await node();
      const other = await node();
      const port = Number(location(target.addr).split(':')[1]);
      for (let i = 0; i < 3; i++) {
        // A UDP relay passing the client's first datagram (its ClientHello) and nothing after:
        // the node's side of the handshake waits for the client's Finished until the idle timeout.
        const relay = createSocket('udp4');
        sockets.push(relay);
        await new Promise<void>((resolve) => relay.bind(0, '127.0.0.1', resolve));
        let client: number | undefined;
        relay.on('message', (msg, from) => {
          if (from.port === port) {
            if (client !== undefined) relay.send(msg, client, '127.0.0.1');
          } else if (client === undefined) {
            client = from.port;
            relay.send(msg, port, '127.0.0.1');
          }
        });
        const staller = await rawClient(`staller ${i}`, clients, { maxIdleTimeout: 60_000 });
        staller.outboundConnection('127.0.0.1', relay.address().port).then(
          (conn) => conn.abort(),
          () => {},
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      // Other peers still get through at once (before, each stalled handshake held them off for 10 s).
      await expect(other.ping(target.addr, { timeoutMs: 2000 })).resolves.toMatchObject({ rttMs: expect.any(Number) });
    });

    /** Opens a ping link the way a node does (hello on the node's network, nothing awaited) and starts a frame of `frameBytes` with `sendBytes` of it. */
    async function partialFrame(conn: QuicConnection, network: string, frameBytes: number, sendBytes: number): Promise<QuicStream> {
      const stream = await conn.outboundStream();
      await stream.write(pingHello(network));
      await stream.write(dataFrameHeader(frameBytes));
      await stream.write(new Uint8Array(sendBytes));
      return stream;
    }

    /** Whether the connection ends within `ms`. */
    const endsWithin = (conn: QuicConnection, ms: number): Promise<boolean> =>
      Promise.race([
        conn.closed().then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms)),
      ]);

    it('cannot make a node hold more than maxPartialBytesPerConnection of unfinished frames: the connection is dropped', async () => {
      // Frames up to 128 KiB; a connection may hold 2 MiB of them unfinished. A peer that
      // opened links and sent every frame but its last bytes held 128 KiB per link, on up to
      // 1,024 links a connection (8 MiB each with the default frame limit: 8 GiB).
      const target = await node({
        network: 'partial',
        maxFrameBytes: 128 * 1024,
        quic: { maxPartialBytesPerConnection: 2 * 1024 * 1024 },
        prometheus: { host: '127.0.0.1', port: 0 },
      });
      const other = await node({ network: 'partial' });
      const client = await rawClient('partial frames', clients);
      const conn = await client.outboundConnection('127.0.0.1', Number(location(target.addr).split(':')[1]));
      const held: QuicStream[] = []; // a stream the binding collects ends (FIN), which would free its bytes
      // Links that end give back what they held: 30 links that each started a 120 KiB frame
      // and were then reset (3.5 MiB over time, never more than 120 KiB at once).
      for (let i = 0; i < 30; i++) {
        const stream = await partialFrame(conn, 'partial', 127 * 1024, 120 * 1024);
        await new Promise((resolve) => setTimeout(resolve, 20));
        await stream.resetWrite();
        await stream.stopRead();
      }
      expect(await endsWithin(conn, 300)).toBe(false);
      // 12 links of 120 KiB each (1.4 MiB): held, the connection stays.
      for (let i = 0; i < 12; i++) held.push(await partialFrame(conn, 'partial', 127 * 1024, 120 * 1024));
      expect(await endsWithin(conn, 300)).toBe(false);
      // 8 more (2.3 MiB in all): past the bound, the node drops the connection.
      for (let i = 0; i < 8; i++)
        await partialFrame(conn, 'partial', 127 * 1024, 120 * 1024).then(
          (s) => held.push(s),
          () => undefined,
        );
      expect(await endsWithin(conn, 3000)).toBe(true);
      const metrics = await (await fetch(target.metricsUrl as string)).text();
      expect(metrics).toMatch(/^mosaik_network_connections_overrun_total\S* 1$/m);
      // The node goes on serving everyone, and the same peer may connect again.
      await expect(other.ping(target.addr, { timeoutMs: 3000 })).resolves.toMatchObject({ rttMs: expect.any(Number) });
      const again = await client.outboundConnection('127.0.0.1', Number(location(target.addr).split(':')[1]));
      held.push(await partialFrame(again, 'partial', 127 * 1024, 1024));
      expect(await endsWithin(again, 300)).toBe(false);
      expect(held.length).toBeGreaterThanOrEqual(13); // kept alive to here
      again.abort();
    });

    it('past maxPartialBytes over all connections, drops the connection that holds the most', async () => {
      const target = await node({
        network: 'partial-total',
        maxFrameBytes: 128 * 1024,
        quic: { maxPartialBytesPerConnection: 2 * 1024 * 1024, maxPartialBytes: 3 * 1024 * 1024 },
      });
      const port = Number(location(target.addr).split(':')[1]);
      const big = await (await rawClient('holds the most', clients)).outboundConnection('127.0.0.1', port);
      const small = await (await rawClient('holds less', clients)).outboundConnection('127.0.0.1', port);
      const held: QuicStream[] = [];
      for (let i = 0; i < 15; i++) held.push(await partialFrame(big, 'partial-total', 127 * 1024, 120 * 1024)); // 1.76 MiB
      for (let i = 0; i < 10; i++) held.push(await partialFrame(small, 'partial-total', 127 * 1024, 120 * 1024)); // 1.17 MiB
      expect(await endsWithin(big, 300)).toBe(false);
      // 2 more links on the smaller one: 3.16 MiB over the node. The larger holder goes.
      for (let i = 0; i < 2; i++) held.push(await partialFrame(small, 'partial-total', 127 * 1024, 120 * 1024));
      expect(await endsWithin(big, 3000)).toBe(true);
      expect(await endsWithin(small, 300)).toBe(false);
      expect(held).toHaveLength(27); // kept alive to here
      small.abort();
    });

    it('fails a dial to a peer that allows no stream within the handshake timeout: ConnectError timeout', async () => {
      // A raw server that completes QUIC handshakes but never allows a stream.
      const quic = await loadQuic();
      const key = SecretKey.fromSeed('no streams');
      const config = quic.config({
        privateKeyProto: privateKeyProto(key),
        handshakeTimeout: 2000,
        maxIdleTimeout: 5000,
        keepAliveInterval: 1000,
        maxConcurrentStreamLimit: 0,
        maxStreamData: 1_000_000,
        maxConnectionData: 2_000_000,
        receiveBufferSize: 500_000,
        sendBufferSize: 500_000,
      });
      const server = quic.server(config, '127.0.0.1', 0);
      servers.push(server);
      const accepted: unknown[] = [];
      void (async () => {
        for (;;) accepted.push(await server.inboundConnection());
      })().catch(() => {});
      const a = await node({ quic: { handshakeTimeoutMs: 500 } });
      const started = performance.now();
      // syncWith has no timeout of its own: it waited for the stream forever.
      const outcome = await Promise.race([
        a.syncWith(`${key.peerId.hex}@127.0.0.1:${server.port()}`).catch((e: unknown) => e),
        new Promise((resolve) => setTimeout(() => resolve('still pending'), 3000)),
      ]);
      expect(outcome).toBeInstanceOf(ConnectError);
      expect((outcome as ConnectError).reason).toBe('timeout');
      expect(performance.now() - started).toBeLessThan(1500);
      expect(accepted).toHaveLength(1);
    });

    it('hears GracefulShutdown on an open link when the node closes', async () => {
      const target = await node({ network: 'graceful' });
      const client = await rawClient('raw client 2', clients);
      const conn = await client.outboundConnection('127.0.0.1', Number(location(target.addr).split(':')[1]));
      const stream = await conn.outboundStream();
      // Open a ping link the way a node does: hello for /mosaik/ping/1 on the right network.
      await stream.write(pingHello('graceful'));
      const decoder = new LinkFrameDecoder(1 << 20);
      const welcome = await stream.read(65_536);
      const [frame] = decoder.push(welcome ?? new Uint8Array(0)).frames;
      expect(frame?.kind).toBe('data');
      const closing = target.close();
      const rest: LinkFrame[] = [];
      let end: 'fin' | 'error' = 'error';
      for (;;) {
        const chunk = await stream.read(65_536).catch(() => undefined);
        if (chunk === undefined) break;
        if (chunk === null) {
          end = 'fin';
          break;
        }
        rest.push(...decoder.push(chunk).frames);
      }
      expect(rest).toEqual([{ kind: 'close', code: CloseCode.GracefulShutdown, reason: 'node shutting down' }]);
      expect(end).toBe('fin');
      await stream.finishWrite(); // lets close() finish without waiting out its grace period
      await closing;
      conn.abort();
    });
  });

  it('close() fails later calls with ClosedError and is idempotent', async () => {
    const a = await node();
    const b = await node();
    await a.ping(b.addr, { timeoutMs: 3000 });
    await Promise.all([a.close(), a.close()]);
    await a.close();
    await expect(a.ping(b.addr, { timeoutMs: 1000 })).rejects.toBeInstanceOf(ClosedError);
    // a is gone: b's next ping fails (typed), it does not hang.
    const error = await b.ping(a.addr, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(error instanceof ConnectError || error instanceof TimeoutError || error instanceof LinkClosedError).toBe(true);
  });

  it('fails pings in flight when the node closes', async () => {
    const a = await node();
    const b = await node();
    await a.ping(b.addr, { timeoutMs: 3000 });
    const slow = await node({ quic: { handshakeTimeoutMs: 5000 } });
    // A ping still dialing a silent address when its node closes is failed, not left pending.
    const pending = slow.ping(`${SecretKey.fromSeed('nobody').peerId.hex}@127.0.0.1:9`, { timeoutMs: 5000 }).catch((e: unknown) => e);
    await slow.close();
    const error = await pending;
    expect(error instanceof LinkClosedError || error instanceof ClosedError).toBe(true);
  });
});

describe('nodes of different frame limits, over QUIC', () => {
  it('a stream datum too large for the consumer node is skipped for it; it stays subscribed and gets the rest', async () => {
    const raw = { encode: (b: Uint8Array) => b, decode: (b: Uint8Array) => b };
    const a = await node({ network: 'quic-frames', discovery: { syncIntervalMs: 200 } });
    const b = await node({ network: 'quic-frames', bootstrap: [a.addr], maxFrameBytes: 128 * 1024, discovery: { syncIntervalMs: 200 } });
    const p = a.streams.producer<Uint8Array>('frames', { codec: raw });
    const c = b.streams.consumer<Uint8Array>('frames', { codec: raw });
    await p.when.subscribed().minimumOf(1);
    await p.send(new Uint8Array(10).fill(1));
    await p.send(new Uint8Array(300 * 1024).fill(2));
    await p.send(new Uint8Array(10).fill(3));
    expect((await c.recv())[0]).toBe(1);
    expect((await c.recv())[0]).toBe(3);
    expect(p.consumers().map((x) => [x.state, x.tooLarge])).toEqual([['connected', 1]]);
  }, 20_000);
});

describe('Network.create options', () => {
  it('refuses options this version does not implement, and misspelt ones, with InvalidArgumentError', async () => {
    const create = (extra: Record<string, unknown>) => Network.create({ network: 'quic-test', ...extra } as CreateNetworkOptions);
    for (const [extra, text] of [
      [{ relay: 'https://relay.example' }, "option 'relay' is not supported yet"],
      [{ transport: 'ws' }, "transport 'ws' is not supported yet"],
      [{ bootstarp: [] }, "unknown option 'bootstarp'"],
      [{ network: '' }, 'network must be a non-empty string'],
      [{ network: undefined }, 'network must be a non-empty string'],
      [{ maxFrameBytes: 10 }, 'maxFrameBytes must be an integer'],
      [{ maxFrameBytes: 1.5e6 + 0.5 }, 'maxFrameBytes must be an integer'],
      [{ listen: 'nope' }, 'listen must be'],
      [{ listen: { port: 70_000 } }, 'listen.port must be'],
      [{ listen: { host: '' } }, 'listen.host must be'],
      [{ quic: { maxPartialBytesPerConnection: 4 * 1024 * 1024 } }, 'quic.maxPartialBytesPerConnection must be at least maxFrameBytes + 1 MiB'],
      [
        { maxFrameBytes: 128 * 1024, quic: { maxPartialBytesPerConnection: 4 * 1024 * 1024, maxPartialBytes: 1024 * 1024 } },
        'quic.maxPartialBytes must be at least',
      ],
      [{ quic: { maxPartialBytes: -1 } }, 'quic.maxPartialBytes must be a positive integer'],
    ] as const) {
      await expect(create(extra)).rejects.toMatchObject({ name: 'InvalidArgumentError', message: expect.stringContaining(text) });
    }
    // 'quic', the one transport there is, is accepted.
    const net = await node({ transport: 'quic' });
    expect(net.addr).toContain('@');
  });
});
