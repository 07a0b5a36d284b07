#!/usr/bin/env node
// The `deepchain` command. Sources are TypeScript, run through tsx's loader so a checkout needs no build.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
