#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

process.stdout.on('error', () => {}); // a closed pipe (e.g. `| head`) must not crash the VM
process.exit(await main(process.argv.slice(2)));
