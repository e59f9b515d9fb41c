import type { NodeContext, Subsystem } from '../../core/node/subsystem.ts';

/**
 * A subsystem for node tests: no protocols, nothing to do on links or timers, and each
 * command is a script run against its context. `afterScript` runs once the script returns.
 */
export function scriptedSubsystem(name: string, afterScript?: () => void): Subsystem<(ctx: NodeContext) => void> {
  return {
    name,
    protocols: new Map(),
    onLinkUp() {},
    onMessage() {},
    onLinkDown() {},
    onTimer() {},
    onShutdown() {},
    onCommand(ctx, _req, script) {
      script(ctx);
      afterScript?.();
    },
  };
}
