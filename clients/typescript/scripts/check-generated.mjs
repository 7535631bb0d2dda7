// Fails when src/generated/ is not what openapi.yaml and asyncapi.yaml make now: the
// client's types are the documents' types, never an edited copy.
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventsModule } from "./generate-events.mjs";

const stale = [];
const dir = mkdtempSync(join(tmpdir(), "client-types-"));
const fresh = join(dir, "openapi.ts");
execFileSync("npx", ["openapi-typescript", "../../openapi.yaml", "--output", fresh], { stdio: "ignore" });
if (readFileSync(fresh, "utf8") !== readFileSync("src/generated/openapi.ts", "utf8")) stale.push("openapi.ts");
if (eventsModule(readFileSync("../../asyncapi.yaml", "utf8")) !== readFileSync("src/generated/events.ts", "utf8")) {
  stale.push("events.ts");
}
if (stale.length) {
  console.error(`clients/typescript/src/generated/${stale.join(", ")} is stale: run npm run generate there`);
  process.exit(1);
}
console.log("clients/typescript: generated types are up to date");
