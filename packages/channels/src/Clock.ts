// One clock abstraction for the repo, defined in @liminal/durability: the
// channels' causal-hold timeouts, publish timestamps and supervisors' restart
// windows read the same `Clock` that durable actors use, so tests drive both
// with one manual clock.
export { type Clock, systemClock } from '@liminal/durability';
