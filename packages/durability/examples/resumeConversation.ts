// A three-step worker that resumes a message after a crash without redoing finished steps.
// Run: tsx --conditions=@liminal/source examples/resumeConversation.ts <store-url> [crashAfterStep]
import { openStore } from '@liminal/store';
import { recoverConversation } from '@liminal/durability';

const [url = 'memory:', crashAfterStep] = process.argv.slice(2);
const store = await openStore(url);
const bytes = new TextEncoder();
const text = new TextDecoder();

// Each step gets the previous step's output; outputs are recorded, so a resumed run reuses them.
const steps = [
  async () => 'reserved stock',
  async (input: string) => `${input}, charged card`,
  async (input: string) => `${input}, shipped`,
];

const conversation = await recoverConversation(store, 'order-42');
const messageId = 'msg-1';
const decision = await conversation.receiveMessage(messageId, Date.now());
console.log(`decision: ${decision.kind}${decision.kind === 'resumeFrom' ? ` ${decision.step}` : ''}`);
if (decision.kind !== 'skip') {
  const first = decision.kind === 'start' ? 0 : decision.step;
  if (first === 0) await conversation.recordProcessingStarted(messageId);
  let input = first === 0 ? '' : text.decode(conversation.state.stepOutput(messageId, first - 1));
  for (let step = first; step < steps.length; step++) {
    input = await steps[step]!(input);
    console.log(`step ${step}: ${input}`);
    await conversation.recordStepCompleted(messageId, step, bytes.encode(input));
    if (step === Number(crashAfterStep)) process.exit(1);
  }
  await conversation.recordProcessingFinished(messageId);
}
console.log(`finished: ${conversation.state.isFullyProcessed(messageId)}`);
await store.close();
