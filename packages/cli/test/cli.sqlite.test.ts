import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeDemoStore } from './demoStore.js';

describeDemoStore('SQLite', async () => `sqlite:${join(mkdtempSync(join(tmpdir(), 'liminal-cli-')), 'demo.db')}`);
