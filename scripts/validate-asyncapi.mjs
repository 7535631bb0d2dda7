// Validates asyncapi.yaml with the AsyncAPI parser (its own rules and the spec's
// schema), resolving the payload schemas it takes from openapi.yaml. Offline.
import { resolve } from "node:path";
import { Parser, fromFile } from "@asyncapi/parser";

const path = resolve(process.argv[2] ?? "asyncapi.yaml");
const { document, diagnostics } = await fromFile(new Parser(), path).parse();
// Severity 0 is an error, 1 a warning; both fail the check, so the document stays clean.
const problems = diagnostics.filter((d) => d.severity <= 1);
for (const d of diagnostics) {
  console.log(`${["error", "warning", "info", "hint"][d.severity]} ${d.code} at ${d.path.join(".")}: ${d.message}`);
}
if (!document || problems.length > 0) {
  console.error(`${path}: ${problems.length} problem(s)`);
  process.exit(1);
}
const messages = document.messages().all().map((m) => m.name());
console.log(`${path}: valid AsyncAPI ${document.version()}, messages: ${messages.join(", ")}`);
