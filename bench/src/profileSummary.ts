/**
 * Prints the functions with the most self time in a V8 `.cpuprofile`
 * (from `pnpm bench --cpu-prof`), with their total (inclusive) time too.
 * usage: node --import tsx src/profileSummary.ts <file.cpuprofile> [top=25] [filter]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg, filter] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: profileSummary <file.cpuprofile> [top] [url filter]\n');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const key = (node: ProfileNode) =>
  `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*\/(node_modules|packages|bench)\//, '$1/')}:${node.callFrame.lineNumber + 1}`;
const self = new Map<string, number>();
const total = new Map<string, number>();
let all = 0;
profile.samples.forEach((id, index) => {
  const dt = profile.timeDeltas[index] ?? 0;
  all += dt;
  const node = byId.get(id);
  if (!node) return;
  self.set(key(node), (self.get(key(node)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
    const k = key(byId.get(current)!);
    if (seen.has(k)) continue;
    seen.add(k);
    total.set(k, (total.get(k) ?? 0) + dt);
  }
});
const rows = [...self.entries()]
  .filter(([k]) => !filter || k.includes(filter))
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(topArg ?? 25));
console.log(`total ${(all / 1000).toFixed(0)} ms`);
for (const [k, t] of rows) {
  console.log(`${((100 * t) / all).toFixed(1).padStart(5)}% self  ${((100 * (total.get(k) ?? 0)) / all).toFixed(1).padStart(5)}% total  ${k}`);
}
