import { createApp } from "./app";

/** The Worker: the HTTP app (fetch) and signing-key rotation (scheduled). */
const app = createApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
