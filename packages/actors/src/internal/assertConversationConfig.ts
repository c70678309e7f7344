import { ConfigError } from '@liminal/store';
import type { ConversationMode, CrashPolicy } from '../conversationTypes.js';
import type { ParticipantSpec } from '../participant.js';
import { assertCompensationOptions } from '../steps.js';

const crashPolicies: readonly CrashPolicy[] = ['fail', 'routeToNext', 'compensate'];
const modes: readonly ConversationMode[] = ['ephemeral', 'durable'];

/**
 * Checks a conversation's configuration, for callers that bypass the types
 * (plain JavaScript, parsed config): `ConfigError` naming the bad field, before
 * anything is started or stored.
 */
export function assertConversationConfig(config: {
  readonly participants: readonly ParticipantSpec[];
  readonly onCrash: CrashPolicy;
  readonly mode: ConversationMode;
  readonly timeoutMs?: number | undefined;
  readonly compensations?: unknown;
  readonly compensationAttempts?: unknown;
}): void {
  assertCompensationOptions(config);
  if (!crashPolicies.includes(config.onCrash)) {
    throw new ConfigError(`onCrash must be one of ${crashPolicies.join(', ')} (there is no default), got ${JSON.stringify(config.onCrash)}`);
  }
  if (!modes.includes(config.mode)) throw new ConfigError(`mode must be one of ${modes.join(', ')}, got ${JSON.stringify(config.mode)}`);
  // Checked as unknown: Array.isArray would narrow the typed specs to any[].
  const participants: unknown = config.participants;
  if (!Array.isArray(participants)) throw new ConfigError('participants must be an array of participant(id, logic)');
  const ids = new Set<string>();
  for (const spec of config.participants) {
    if (typeof spec?.id !== 'string' || spec.id === '') throw new ConfigError(`every participant needs a non-empty string id, got ${JSON.stringify(spec?.id)}`);
    if (typeof spec.logic !== 'object' || spec.logic === null) throw new ConfigError(`participant ${JSON.stringify(spec.id)} has no XState logic`);
    if (ids.has(spec.id)) throw new ConfigError(`participant id ${JSON.stringify(spec.id)} is used twice`);
    ids.add(spec.id);
  }
  const { timeoutMs } = config;
  if (timeoutMs !== undefined && !(Number.isSafeInteger(timeoutMs) && timeoutMs >= 0)) {
    throw new ConfigError(`timeoutMs must be a non-negative safe integer, got ${timeoutMs}`);
  }
}
