import type { ParticipantStatus } from '../conversationTypes.js';

export const isAlive = (status: ParticipantStatus) => status.health.kind === 'alive';

/** Marks dead, at `exitedAt`, every live participant `which` picks, and says who died (each exit is reported once). */
export function markDead(
  participants: readonly ParticipantStatus[],
  which: (participant: string) => boolean,
  exitedAt: number,
): { participants: ParticipantStatus[]; died: string[] } {
  const died: string[] = [];
  const next = participants.map((status) => {
    if (!isAlive(status) || !which(status.participant)) return status;
    died.push(status.participant);
    return { participant: status.participant, health: { kind: 'dead', exitedAt } } satisfies ParticipantStatus;
  });
  return { participants: next, died };
}
