// Generated from asyncapi.yaml by scripts/generate-events.mjs: do not edit.
import type { components } from "./openapi.js";

/** Each real-time event's name, and the type of its `data`. */
export interface EventData {
  "chat-join-request": components["schemas"]["JoinRequestData"];
  "chat-request-accepted": components["schemas"]["AcceptedData"];
  "score-updated": components["schemas"]["ScoreUpdatedData"];
  "chat-request-rejected": components["schemas"]["RequestData"];
  "chat-request-expired": components["schemas"]["RequestData"];
  "chat-join-request-closed": components["schemas"]["ClosedData"];
}
