#!/usr/bin/env node
// Copies the browser bundle of @scalar/api-reference into public/, the Worker's static assets,
// so /docs works offline and under a CSP of 'self'. Run by npm install, npm run dev, the test
// and deploy scripts; the copy is git-ignored.
import { copyFileSync, mkdirSync } from "node:fs";

mkdirSync("public/docs", { recursive: true });
copyFileSync("node_modules/@scalar/api-reference/dist/browser/standalone.js", "public/docs/scalar.js");
