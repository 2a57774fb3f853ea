// A small orders service on DynamoDB (AWS SDK for JavaScript v3), in two variants:
//
//   VARIANT=resilient  fails over to the secondary region (us-west-2) when the primary cannot be
//                      resolved or reached, reads from the other region when one has no copy yet,
//                      and makes writes idempotent: the order id comes from the client's
//                      Idempotency-Key and the put is conditional, so a replayed request
//                      returns the order it already created.
//   VARIANT=naive      one region, SDK defaults, a fresh random id per request.
//
// HTTP API (JSON):
//   POST /orders        {"item": "...", "qty": 1}, header Idempotency-Key  -> 201 {"order_id", ...}
//   GET  /orders/:id                                                       -> 200 {"order"} | 404
//   GET  /healthz                                                          -> 200
// Every answer carries X-Served-By-Region (the region that served it, or "none").
//
// Configuration (chaos-harness exports these inside its sandbox):
//   PORT, AWS_REGION / AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_DYNAMODB,
//   CHAOS_DYNAMODB_ENDPOINT_US_EAST_1, CHAOS_DYNAMODB_ENDPOINT_US_WEST_2, ORDERS_TABLE (default "orders").
"use strict";

const http = require("node:http");
const crypto = require("node:crypto");
const {
  DynamoDBClient,
  PutItemCommand,
  GetItemCommand,
} = require("@aws-sdk/client-dynamodb");

const VARIANT = process.env.VARIANT || "resilient";
const PORT = Number(process.env.PORT || 8080);
const TABLE = process.env.ORDERS_TABLE || "orders";
const PRIMARY = process.env.PRIMARY_REGION || "us-east-1";
const SECONDARY = process.env.SECONDARY_REGION || "us-west-2";
const BREAKER_OPEN_MS = Number(process.env.BREAKER_OPEN_MS || 1000);

function endpointFor(region) {
  const own = process.env[`CHAOS_DYNAMODB_ENDPOINT_${region.toUpperCase().replace(/-/g, "_")}`];
  if (own) return own;
  if (region === PRIMARY && process.env.AWS_ENDPOINT_URL_DYNAMODB) return process.env.AWS_ENDPOINT_URL_DYNAMODB;
  return undefined; // the real AWS endpoint
}

function makeClient(region) {
  const options = { region, endpoint: endpointFor(region) };
  if (VARIANT === "resilient") {
    // Fail fast and let the failover do the work: one retry, short timeouts.
    options.maxAttempts = 2;
    options.requestHandler = { connectionTimeout: 300, requestTimeout: 800 };
  }
  return new DynamoDBClient(options);
}

const clients = { [PRIMARY]: makeClient(PRIMARY) };
if (VARIANT === "resilient") clients[SECONDARY] = makeClient(SECONDARY);

// The resilient variant's breaker: after a resolution or connection failure the primary is skipped
// for BREAKER_OPEN_MS, then tried again (half-open: one success closes it).
let primaryDownUntil = 0;

const FAILOVER_CODES = new Set([
  "ENOTFOUND", "EAI_AGAIN", "ENODATA", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH",
  "ENETUNREACH", "EPIPE", "ECONNABORTED",
]);

function isFailoverError(err) {
  if (!err) return false;
  if (FAILOVER_CODES.has(err.code) || FAILOVER_CODES.has(err.errno)) return true;
  if (["TimeoutError", "RequestTimeout", "ThrottlingException", "ProvisionedThroughputExceededException",
       "InternalServerError", "ServiceUnavailable"].includes(err.name)) return true;
  const status = err.$metadata && err.$metadata.httpStatusCode;
  return status === undefined || status >= 500;
}

function regionsInOrder() {
  if (VARIANT !== "resilient") return [PRIMARY];
  return Date.now() < primaryDownUntil ? [SECONDARY, PRIMARY] : [PRIMARY, SECONDARY];
}

// Run `call(client)` in the preferred region, failing over to the next on resolution/connection errors.
async function withFailover(call) {
  const order = regionsInOrder();
  let lastError;
  for (const region of order) {
    try {
      const result = await call(clients[region], region);
      if (region === PRIMARY) primaryDownUntil = 0;
      return { result, region };
    } catch (err) {
      if (err.name === "ConditionalCheckFailedException") throw Object.assign(err, { region });
      lastError = err;
      if (VARIANT !== "resilient" || !isFailoverError(err)) break;
      if (region === PRIMARY) primaryDownUntil = Date.now() + BREAKER_OPEN_MS;
    }
  }
  throw lastError;
}

async function getOrder(orderId) {
  // The resilient variant reads the other region too: a write made there may not have replicated yet.
  const order = regionsInOrder();
  let lastError;
  for (const region of order) {
    try {
      const out = await clients[region].send(new GetItemCommand({
        TableName: TABLE, Key: { order_id: { S: orderId } }, ConsistentRead: true,
      }));
      if (region === PRIMARY) primaryDownUntil = 0;
      if (out.Item) return { item: out.Item, region };
      if (VARIANT !== "resilient") return { item: null, region };
      lastError = null;
    } catch (err) {
      lastError = err;
      if (VARIANT !== "resilient" || !isFailoverError(err)) throw err;
      if (region === PRIMARY) primaryDownUntil = Date.now() + BREAKER_OPEN_MS;
    }
  }
  if (lastError) throw lastError;
  return { item: null, region: order[order.length - 1] };
}

function plain(item) {
  return { order_id: item.order_id.S, item: item.item.S, qty: Number(item.qty.N), created_at: item.created_at.S };
}

async function createOrder(body, idempotencyKey) {
  const orderId = VARIANT === "resilient" && idempotencyKey ? `o-${idempotencyKey}` : `o-${crypto.randomUUID()}`;
  const item = {
    order_id: { S: orderId },
    item: { S: String(body.item || "widget") },
    qty: { N: String(Number(body.qty || 1)) },
    created_at: { S: new Date().toISOString() },
  };
  const put = { TableName: TABLE, Item: item };
  if (VARIANT === "resilient") put.ConditionExpression = "attribute_not_exists(order_id)";
  try {
    const { region } = await withFailover((client) => client.send(new PutItemCommand(put)));
    return { status: 201, body: plain(item), region };
  } catch (err) {
    if (err.name !== "ConditionalCheckFailedException") throw err;
    // A replay of a request that already created its order: answer with that order.
    const found = await getOrder(orderId);
    return { status: 200, body: found.item ? plain(found.item) : { order_id: orderId }, region: found.region };
  }
}

function send(res, status, body, region) {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(data),
    "X-Served-By-Region": region || "none",
  });
  res.end(data);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      if (!chunks.length) return resolve({});
      try { resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))); } catch (e) { reject(e); }
    });
    req.on("error", reject);
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  try {
    if (url.pathname === "/healthz") return send(res, 200, { ok: true, variant: VARIANT }, null);
    if (url.pathname === "/orders" && req.method === "POST") {
      let body;
      try { body = await readJson(req); } catch (e) { return send(res, 400, { error: "bad_json" }, null); }
      const out = await createOrder(body, req.headers["idempotency-key"]);
      return send(res, out.status, { ...out.body, region: out.region }, out.region);
    }
    const match = url.pathname.match(/^\/orders\/([^/]+)$/);
    if (match && req.method === "GET") {
      const found = await getOrder(decodeURIComponent(match[1]));
      if (!found.item) return send(res, 404, { error: "not_found" }, found.region);
      return send(res, 200, { order: plain(found.item), region: found.region }, found.region);
    }
    return send(res, 404, { error: "no_route" }, null);
  } catch (err) {
    return send(res, 503, { error: "dynamodb_unavailable", message: `${err.name}: ${err.message}` }, null);
  }
});

server.keepAliveTimeout = 30000;
server.listen(PORT, "127.0.0.1", () => {
  console.log(`node-orders (${VARIANT}) listening on 127.0.0.1:${PORT}, table ${TABLE}, primary ${PRIMARY}`);
});

function shutdown(signal) {
  console.log(`node-orders: ${signal}, closing`);
  server.close(() => process.exit(0));
  server.closeIdleConnections && server.closeIdleConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
