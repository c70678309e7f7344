// Sums every vitest JSON report the test command wrote into one closing line.
import { readdirSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of readdirSync('.').filter((name) => /^\.vitest-results.*\.json$/.test(name))) {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  // Skipped (`skip`, `skipIf`, filtered by `-t`) and `todo` tests both ran no assertion.
  skipped += report.numPendingTests + report.numTodoTests;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
