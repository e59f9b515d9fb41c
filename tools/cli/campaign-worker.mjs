// Entry of a campaign worker thread: the sources are TypeScript, so register tsx first.
import { register } from 'tsx/esm/api';

register();
await import('./campaign-worker.ts');
