#!/usr/bin/env node
import { startConsole } from './console.js';
import { runCli } from './main.js';

const stdout = { write: (text: string) => void process.stdout.write(text) };
const stderr = { write: (text: string) => void process.stderr.write(text) };
process.exitCode = await runCli(process.argv.slice(2), stdout, stderr, startConsole);
