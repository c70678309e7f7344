import type { Envelope } from '../participant.js';
import { ephemeralSteps, type RegisterCompensation, type StepContext } from '../steps.js';

/** Whether a delivered message runs (with its step context) or was already processed. */
export type Admission = { readonly kind: 'skip' } | { readonly kind: 'run'; readonly steps: StepContext };

/**
 * Where the conversation machine records the life of each turn. Ephemeral
 * mode records nothing; durable mode writes a `DurableConversation`.
 * `finish` and `crashed` are fire-and-forget: the journal serializes its
 * writes and reports a failed write through the callback it was built with.
 */
export interface TurnJournal {
  admit(envelope: Envelope, register: RegisterCompensation): Promise<Admission>;
  finish(messageId: string): void;
  crashed(messageId: string, error: unknown): void;
  /** Resolves once every write issued so far has settled. */
  flush(): Promise<void>;
}

export const ephemeralJournal: TurnJournal = {
  admit: async (envelope, register) => ({ kind: 'run', steps: ephemeralSteps(envelope.id, register) }),
  finish: () => {},
  crashed: () => {},
  flush: async () => {},
};
