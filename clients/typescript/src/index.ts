export * from "./client.js";
export * from "./live.js";
export type { EventData } from "./generated/events.js";
export type { components, paths } from "./generated/openapi.js";
