// WEBHOOK_SECRET=whsec_… PORT=3000 node examples/webhook-receiver/receiver.mjs
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const webhook = new Webhook(process.env.WEBHOOK_SECRET);
const seen = new Set(); // webhook-ids acted on (in production: a table with a unique key)
createServer(async (req, res) => {
  const body = Buffer.concat(await Array.fromAsync(req));
  let event;
  try { event = webhook.verify(body, req.headers); } catch { return res.writeHead(400).end(); } // bad signature or stale timestamp
  const id = req.headers["webhook-id"];
  if (!seen.has(id)) console.log(`${event.type} ${id}`); // act on the event here, once per webhook-id
  seen.add(id);
  res.writeHead(204).end();
}).listen(process.env.PORT ?? 3000, () => console.log(`listening on ${process.env.PORT ?? 3000}`));
