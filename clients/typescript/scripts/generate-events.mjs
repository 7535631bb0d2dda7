// Writes the real-time events' types from asyncapi.yaml: each message's name, and the
// openapi.yaml schema its `data` refers to. `npm run generate` runs it after
// openapi-typescript, and the test command checks the output is up to date.
//   node scripts/generate-events.mjs <asyncapi.yaml> <output.ts>
import { readFileSync, writeFileSync } from "node:fs";
import { parse } from "yaml";

export function eventsModule(asyncapiText) {
  const document = parse(asyncapiText);
  const lines = [];
  for (const [key, message] of Object.entries(document.components.messages)) {
    const ref = message.payload?.properties?.data?.$ref ?? "";
    const match = /^\.\/openapi\.yaml#\/components\/schemas\/(\w+)$/.exec(ref);
    if (!match) throw new Error(`message ${key}: data is not an openapi.yaml schema (${ref})`);
    lines.push(`  ${JSON.stringify(message.name)}: components["schemas"][${JSON.stringify(match[1])}];`);
  }
  return [
    "// Generated from asyncapi.yaml by scripts/generate-events.mjs: do not edit.",
    'import type { components } from "./openapi.js";',
    "",
    "/** Each real-time event's name, and the type of its `data`. */",
    "export interface EventData {",
    ...lines,
    "}",
    "",
  ].join("\n");
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const [input, output] = process.argv.slice(2);
  writeFileSync(output, eventsModule(readFileSync(input, "utf8")));
}
