import type { DiscoveryCall, DiscoverySubsystem } from '../discovery/discovery.ts';
import { AlreadyExistsError, GroupClosedError, InvalidArgumentError, StorageError } from '../errors.ts';
import type { GroupId } from '../identity/digest.ts';
import type { PeerId } from '../identity/keys.ts';
import type { NodeEvent, RequestId } from '../node/io.ts';
import type { LinkDown, LinkInfo, NodeContext, PendingLink, Subsystem } from '../node/subsystem.ts';
import { TicketGate } from '../streams/ticket-gate.ts';
import { equalBytes } from '../util/bytes.ts';
import { CloseCode } from '../wire/close-codes.ts';
import type { MessageCodec } from '../wire/codec.ts';
import type { ProtocolId } from '../wire/protocol.ts';
import type { TicketCheck } from './admission.ts';
import { Group, type GroupSpec, type PlantedGroupBugs } from './group.ts';
import { checkBatch } from './limits.ts';

export type { PlantedGroupBugs };

import { type BondMessage, bondCodec, GROUPS_PROTOCOL } from './wire.ts';

export type GroupsCommand =
  | { readonly kind: 'join'; readonly spec: GroupSpec }
  /** `wait: 'applied'` (execute): resolves after commit and local apply; `'accepted'` (feed): once the leader has appended it. */
  | {
      readonly kind: 'execute';
      readonly group: GroupId;
      readonly commands: readonly Uint8Array[];
      readonly wait: 'applied' | 'accepted';
      /** Fails the call with TimeoutError this long after the node takes it, if not settled by then. */
      readonly timeoutMs?: number | undefined;
    }
  | { readonly kind: 'query'; readonly group: GroupId; readonly query: unknown; readonly strong: boolean; readonly timeoutMs?: number | undefined }
  | { readonly kind: 'transfer'; readonly group: GroupId; readonly to: PeerId | undefined }
  | { readonly kind: 'leave'; readonly group: GroupId };

/** Node-wide settings of the groups subsystem (`Network.create({ groups })`). */
export interface GroupsOptions {
  /** How long an accepted bond link may take to name its group (its hello). @default 2000, mosaik's `handshake_timeout` */
  readonly handshakeTimeoutMs?: number;
}

/** How long an accepted link may take to say which group it is for, by default. */
const DEFAULT_HELLO_TIMEOUT_MS = 2000;

type Timer =
  | { readonly group: string; readonly kind: 'tick' }
  | { readonly group: string; readonly kind: 'deadline'; readonly req: RequestId }
  | { readonly kind: 'hello'; readonly link: number };

/**
 * Consensus groups (mosaik `groups`): every group this node joined, its bonds and its Raft
 * participant. Members find each other through discovery (the group id in their signed
 * entries), bond over `/mosaik/groups/4`, and organize themselves into one Raft cluster
 * (see `Group` and docs/groups.md).
 */
export class GroupsSubsystem implements Subsystem<GroupsCommand> {
  readonly name = 'groups';
  readonly protocols: ReadonlyMap<ProtocolId, MessageCodec<unknown>> = new Map([[GROUPS_PROTOCOL, bondCodec as MessageCodec<unknown>]]);
  readonly listensTo: ReadonlySet<NodeEvent['type']> = new Set(['discovery.discovered', 'discovery.updated', 'discovery.departed']);
  readonly #discovery: DiscoverySubsystem | undefined;
  readonly #bugs: PlantedGroupBugs;
  readonly #groups = new Map<string, Group>();
  /** Links by id to the group they serve; accepted links join once their hello names one. */
  readonly #linkGroup = new Map<number, Group>();
  readonly #helloTimers = new Map<number, number>();
  /** Ticket checks for every group's bonds, memoised (a TDX verification costs ~10 ms in pure JS). */
  readonly #gate = new TicketGate();
  readonly #ticketCheck: TicketCheck = {
    check: (validators, peer, nowMs) => {
      // Tickets count only in a signed entry (a local hint proves nothing).
      const entry = this.#discovery?.catalog?.signedEntry(peer, nowMs);
      return entry === undefined ? 'unknown' : this.#gate.check(validators, entry, nowMs);
    },
    checkSelf: (validators, nowMs) => {
      const me = this.#discovery?.catalog?.me();
      return me === undefined ? 'unknown' : this.#gate.check(validators, me.entry, nowMs);
    },
  };

  readonly #helloTimeoutMs: number;

  constructor(discovery?: DiscoverySubsystem, bugs: PlantedGroupBugs = {}, options: GroupsOptions = {}) {
    this.#discovery = discovery;
    this.#bugs = bugs;
    this.#helloTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
  }

  group(id: GroupId): Group | undefined {
    return this.#groups.get(id.hex);
  }

  groups(): readonly Group[] {
    return [...this.#groups.values()];
  }

  onStart(): void {}

  onCommand(ctx: NodeContext, req: RequestId, command: GroupsCommand): void {
    if (command.kind === 'join') {
      this.#join(ctx, req, command.spec);
      return;
    }
    const group = this.#groups.get(command.group.hex);
    if (group !== undefined && group.leaving && command.kind !== 'leave') {
      ctx.fail(req, new GroupClosedError(`group ${command.group.short} is being left`));
      return;
    }
    if (group === undefined) {
      ctx.fail(req, new GroupClosedError(`not a member of group ${command.group.short} (left, or never joined)`));
      return;
    }
    switch (command.kind) {
      case 'execute': {
        const refused = checkBatch(command.commands, ctx.maxFrameBytes);
        if (refused !== undefined) {
          ctx.fail(req, refused);
          return;
        }
        group.execute(ctx, req, command.commands, command.wait, command.timeoutMs);
        return;
      }
      case 'query':
        group.query(ctx, req, command.query, command.strong, command.timeoutMs);
        return;
      case 'transfer':
        group.transferLeadership(ctx, req, command.to);
        return;
      case 'leave':
        this.#leave(ctx, group, req);
        return;
    }
  }

  #join(ctx: NodeContext, req: RequestId, spec: GroupSpec): void {
    const existing = this.#groups.get(spec.id.hex);
    if (existing !== undefined) {
      const why = existing.leaving ? 'is still leaving it; await its leave() before joining again' : 'already joined it; share that handle';
      ctx.fail(req, new AlreadyExistsError(`group ${spec.id.short}: this node ${why}`));
      return;
    }
    if (!(spec.bootstrapExpect >= 1) || !(spec.maxVoters >= 1)) {
      ctx.fail(req, new InvalidArgumentError('bootstrapExpect and maxVoters must be at least 1'));
      return;
    }
    let group: Group;
    try {
      group = new Group(ctx, spec, this.#bugs, this.#ticketCheck);
    } catch (error) {
      // What an application's store handed back is input: refuse the join, not the node.
      if (typeof spec.storage !== 'object') throw error;
      const reason =
        error instanceof StorageError
          ? error
          : new StorageError(
              'corrupted',
              `group ${spec.id.short}: the store's state is inconsistent: ${error instanceof Error ? error.message : String(error)}`,
            );
      ctx.fail(req, reason);
      return;
    }
    this.#groups.set(spec.id.hex, group);
    this.#advertise(ctx);
    const catalog = this.#discovery?.catalog;
    if (catalog)
      for (const { entry } of catalog.signedPeers(ctx.wallClockMs))
        if (entry.groups.some((g) => g.equals(spec.id))) group.onMemberEntry(ctx, entry.peerId, entry.addresses, true);
    ctx.complete(req, undefined);
  }

  /** Un-advertises at once (so the others see the member go) and forgets the group once it has closed. */
  #leave(ctx: NodeContext, group: Group, req: RequestId): void {
    group.onClosed = () => {
      if (this.#groups.get(group.hex) === group) this.#groups.delete(group.hex);
      for (const [link, g] of this.#linkGroup) if (g === group) this.#linkGroup.delete(link);
    };
    group.beginLeave(ctx, req, new GroupClosedError('the group was left'));
    this.#advertise(ctx);
  }

  #advertise(ctx: NodeContext): void {
    if (this.#discovery === undefined) return;
    const groups = [...this.#groups.values()].filter((g) => !g.leaving && !g.closed).map((g) => g.spec.id);
    ctx.call('discovery', { kind: 'advertise', groups } satisfies DiscoveryCall);
  }

  onEvent(ctx: NodeContext, event: NodeEvent): void {
    if (event.type === 'discovery.departed') {
      for (const g of this.#groups.values()) g.onMemberGone(event.peer);
      return;
    }
    if (event.type !== 'discovery.discovered' && event.type !== 'discovery.updated') return;
    const entry = event.entry;
    for (const g of this.#groups.values()) {
      const listed = entry.groups.some((id) => id.equals(g.spec.id));
      g.onMemberEntry(ctx, entry.peerId, entry.addresses, listed);
    }
  }

  onLinkUp(ctx: NodeContext, link: LinkInfo): void {
    if (link.dir === 'out') {
      const group = this.#dialer(link.id);
      if (group === undefined) {
        ctx.close(link.id, CloseCode.Cancelled, 'no longer needed');
        return;
      }
      this.#linkGroup.set(link.id, group);
      group.onDialUp(ctx, link);
      return;
    }
    this.#helloTimers.set(link.id, ctx.armTimer(ctx.nowMs + this.#helloTimeoutMs, { kind: 'hello', link: link.id } satisfies Timer));
  }

  /** The group that dialed `link` (each group remembers its own dials). */
  #dialer(link: number): Group | undefined {
    for (const g of this.#groups.values()) if (g.isDialing(link)) return g;
    return undefined;
  }

  onMessage(ctx: NodeContext, link: LinkInfo, message: unknown): void {
    const msg = message as BondMessage;
    const group = this.#linkGroup.get(link.id);
    if (group !== undefined) {
      group.onBondMessage(ctx, link, msg);
      return;
    }
    if (msg.t !== 'hello') {
      ctx.close(link.id, CloseCode.GroupInvalidHandshake, `expected hello, got ${msg.t}`);
      return;
    }
    const timer = this.#helloTimers.get(link.id);
    if (timer !== undefined) ctx.cancelTimer(timer);
    this.#helloTimers.delete(link.id);
    if (!equalBytes(ctx.networkId.bytes, msg.network)) {
      ctx.close(link.id, CloseCode.DifferentNetwork, 'different network');
      return;
    }
    const target = [...this.#groups.values()].find((g) => equalBytes(g.spec.id.bytes, msg.group));
    if (target === undefined) {
      ctx.close(link.id, CloseCode.GroupNotFound, 'no such group here');
      return;
    }
    this.#linkGroup.set(link.id, target);
    target.onHello(ctx, link, msg);
  }

  onLinkDown(ctx: NodeContext, link: LinkInfo | PendingLink, _down: LinkDown): void {
    const timer = this.#helloTimers.get(link.id);
    if (timer !== undefined) ctx.cancelTimer(timer);
    this.#helloTimers.delete(link.id);
    const group = this.#linkGroup.get(link.id) ?? this.#dialer(link.id);
    this.#linkGroup.delete(link.id);
    group?.onLinkDown(ctx, link.id);
  }

  onTimer(ctx: NodeContext, payload: unknown): void {
    const t = payload as Timer;
    if (t.kind === 'hello') {
      this.#helloTimers.delete(t.link);
      if (!this.#linkGroup.has(t.link)) ctx.close(t.link, CloseCode.GroupTimeout, 'no hello in time');
      return;
    }
    const group = this.#groups.get(t.group);
    if (t.kind === 'deadline') group?.onDeadline(ctx, t.req);
    else group?.onTick(ctx);
  }

  onShutdown(ctx: NodeContext): void {
    for (const g of [...this.#groups.values()]) g.shutdown(ctx);
    this.#groups.clear();
    this.#linkGroup.clear();
  }
}
