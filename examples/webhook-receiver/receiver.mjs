// A Keymint webhook receiver: WEBHOOK_SECRET=whsec_… PORT=3000 node examples/webhook-receiver/receiver.mjs
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const webhook = new Webhook(process.env.WEBHOOK_SECRET);
const seen = new Set(); // webhook-ids handled already (in production: a table with a unique key)
const port = Number(process.env.PORT ?? 3000);

createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  let event;
  try {
    event = webhook.verify(Buffer.concat(chunks), req.headers); // the signature and a recent timestamp
  } catch {
    return res.writeHead(400).end();
  }
  const id = req.headers["webhook-id"];
  if (!seen.has(id)) console.log(`${event.type} ${id}`); // act on the event here, once per webhook-id
  seen.add(id);
  res.writeHead(204).end();
}).listen(port, () => console.log(`listening on http://localhost:${port}`));
