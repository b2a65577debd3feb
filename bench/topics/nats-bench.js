#!/usr/bin/env node
// JetStream load generator for bench/topics/nats.sh (npm package `nats`,
// pinned in package.json / package-lock.json beside this file).
//
//   node nats-bench.js --servers nats://127.0.0.1:P1,... [--stream bench]
//       [--messages N] [--size BYTES] [--in-flight K] [--replicas 3]
//       [--fetch-batch B] [--publish-mode async|js]
//       [--consume-mode pull|fetch|consume] [--phase both|produce|consume]
//       [--timeout SECONDS]
//
// produce: (re)creates the stream (file storage, R replicas, one subject),
//   then publishes N messages of SIZE bytes with K publishes in flight; the
//   stream leader acks each one (a JetStream PubAck) once a quorum of
//   replicas stored it. Latency = publish to ack.
//   `async` (default): plain publishes with a per-message reply subject and
//   one wildcard subscription for the acks, as the Go client's
//   PublishAsync; `js`: the client's js.publish() promise per message
//   (more client CPU per message).
// consume: one durable pull consumer (deliver all, ack policy none, as a log
//   reader that tracks its own position) reads the N messages back in batches
//   of B. `pull` (default): its own pull requests, two batches outstanding;
//   `fetch`: the client's consumer.fetch(), one batch at a time; `consume`:
//   the client's consumer.consume() (refills at half a batch).
// Prints one JSON line on stdout; progress and errors go to stderr.
"use strict";

const {
  connect,
  createInbox,
  JSONCodec,
  AckPolicy,
  DeliverPolicy,
  StorageType,
  RetentionPolicy,
} = require("nats");

function parseArgs(argv) {
  const o = {
    servers: "nats://127.0.0.1:4222",
    stream: "bench",
    messages: 100000,
    size: 1024,
    inFlight: 1024,
    replicas: 3,
    fetchBatch: 1000,
    consumeMode: "pull",
    publishMode: "async",
    phase: "both",
    timeout: 600,
  };
  const keys = {
    "--servers": ["servers", String],
    "--stream": ["stream", String],
    "--messages": ["messages", Number],
    "--size": ["size", Number],
    "--in-flight": ["inFlight", Number],
    "--replicas": ["replicas", Number],
    "--fetch-batch": ["fetchBatch", Number],
    "--consume-mode": ["consumeMode", String],
    "--publish-mode": ["publishMode", String],
    "--phase": ["phase", String],
    "--timeout": ["timeout", Number],
  };
  for (let i = 2; i < argv.length; i++) {
    const k = keys[argv[i]];
    if (!k || i + 1 >= argv.length) {
      throw new Error(`unknown option or missing value: ${argv[i]}`);
    }
    o[k[0]] = k[1](argv[++i]);
  }
  for (const k of ["messages", "size", "inFlight", "replicas", "fetchBatch", "timeout"]) {
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new Error(`--${k}: not a positive integer`);
  }
  if (!["pull", "fetch", "consume"].includes(o.consumeMode)) throw new Error("--consume-mode: pull, fetch or consume");
  if (!["async", "js"].includes(o.publishMode)) throw new Error("--publish-mode: async or js");
  if (!["both", "produce", "consume"].includes(o.phase)) throw new Error("--phase: both, produce or consume");
  return o;
}

const nowNs = () => process.hrtime.bigint();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function waitForJetStream(nc, deadlineMs) {
  const end = Date.now() + deadlineMs;
  let last;
  while (Date.now() < end) {
    try {
      const jsm = await nc.jetstreamManager({ timeout: 2000 });
      await jsm.getAccountInfo();
      return jsm;
    } catch (e) {
      last = e;
      await sleep(200);
    }
  }
  throw new Error(`JetStream not ready after ${deadlineMs} ms: ${last && last.message}`);
}

async function createStream(jsm, o) {
  try {
    await jsm.streams.delete(o.stream);
  } catch (_) {
    // did not exist
  }
  const end = Date.now() + 30000;
  for (;;) {
    try {
      await jsm.streams.add({
        name: o.stream,
        subjects: [`${o.stream}.data`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        num_replicas: o.replicas,
        max_msg_size: -1,
        duplicate_window: 0,
      });
      return;
    } catch (e) {
      // the meta group may still be electing its leader
      if (Date.now() > end) throw e;
      await sleep(300);
    }
  }
}

async function produceJs(nc, o) {
  const js = nc.jetstream({ timeout: 30000 });
  const subject = `${o.stream}.data`;
  const payload = new Uint8Array(o.size);
  for (let i = 0; i < o.size; i++) payload[i] = 97 + (i % 26);
  const lat = new Float64Array(o.messages); // ms
  let next = 0;
  let done = 0;
  let inflight = 0;
  await new Promise((resolve, reject) => {
    let failed = false;
    const launch = () => {
      while (!failed && inflight < o.inFlight && next < o.messages) {
        const i = next++;
        const s = nowNs();
        inflight++;
        js.publish(subject, payload).then(
          () => {
            lat[i] = Number(nowNs() - s) / 1e6;
            inflight--;
            done++;
            if (done === o.messages) resolve();
            else launch();
          },
          (e) => {
            failed = true;
            reject(new Error(`publish ${i} failed: ${e.message}`));
          },
        );
      }
    };
    launch();
  });
  return lat;
}

// The JetStream publish protocol without the per-message promise and timer
// of js.publish(): like the Go client's PublishAsync, every message is a
// plain publish whose reply subject is <inbox>.<index>, and one wildcard
// subscription collects the PubAcks ({"stream":..,"seq":..} or {"error":..}).
async function produceAsync(nc, o) {
  const subject = `${o.stream}.data`;
  const payload = new Uint8Array(o.size);
  for (let i = 0; i < o.size; i++) payload[i] = 97 + (i % 26);
  const lat = new Float64Array(o.messages); // ms
  const sent = new Array(o.messages);
  const inbox = createInbox();
  const prefix = inbox.length + 1;
  const jc = JSONCodec();
  let next = 0;
  let done = 0;
  let inflight = 0;
  let t0;
  await new Promise((resolve, reject) => {
    const launch = () => {
      while (inflight < o.inFlight && next < o.messages) {
        const i = next++;
        sent[i] = nowNs();
        inflight++;
        nc.publish(subject, payload, { reply: `${inbox}.${i}` });
      }
    };
    nc.subscribe(`${inbox}.*`, {
      callback: (err, m) => {
        if (err) return reject(err);
        const i = Number(m.subject.slice(prefix));
        const ack = m.data.length ? jc.decode(m.data) : {};
        if (!ack.seq) {
          return reject(new Error(`publish ${i}: ${JSON.stringify(ack)} ${m.headers ? m.headers.code : ""}`));
        }
        lat[i] = Number(nowNs() - sent[i]) / 1e6;
        inflight--;
        if (++done === o.messages) resolve();
        else launch();
      },
    });
    nc.flush().then(() => {
      t0 = nowNs();
      launch();
    }, reject);
  });
  return { t0, lat };
}

async function produce(nc, o) {
  let t0;
  let lat;
  if (o.publishMode === "async") {
    ({ t0, lat } = await produceAsync(nc, o));
  } else {
    t0 = nowNs();
    lat = await produceJs(nc, o);
  }
  const secs = Number(nowNs() - t0) / 1e9;
  lat.sort();
  return {
    messages: o.messages,
    seconds: +secs.toFixed(3),
    msgs_per_s: +(o.messages / secs).toFixed(1),
    mb_per_s: +((o.messages * o.size) / secs / 1e6).toFixed(2),
    p50_ms: +percentile(lat, 50).toFixed(3),
    p99_ms: +percentile(lat, 99).toFixed(3),
    p999_ms: +percentile(lat, 99.9).toFixed(3),
  };
}

// A pull consumer driven by its own pull requests: two batch requests of B
// messages outstanding (the next one is sent as soon as one is filled), the
// messages delivered to one inbox subscription.
function consumePull(nc, o, durable) {
  return new Promise((resolve, reject) => {
    const inbox = createInbox();
    const api = `$JS.API.CONSUMER.MSG.NEXT.${o.stream}.${durable}`;
    const jc = JSONCodec();
    let got = 0;
    let bytes = 0;
    let requested = 0;
    let inBatch = 0;
    const request = () => {
      const want = Math.min(o.fetchBatch, o.messages - requested);
      if (want <= 0) return;
      requested += want;
      nc.publish(api, jc.encode({ batch: want, expires: 5e9 }), { reply: inbox });
    };
    nc.subscribe(inbox, {
      callback: (err, m) => {
        if (err) return reject(err);
        if (m.data.length === 0 && m.headers) {
          const code = m.headers.code;
          if (code === 404 || code === 408) {
            // no messages / request expired: ask again for what is missing
            requested = got;
            inBatch = 0;
            return request();
          }
          return reject(new Error(`pull: status ${code} ${m.headers.description}`));
        }
        bytes += m.data.length;
        got++;
        if (got >= o.messages) return resolve({ got, bytes });
        if (++inBatch >= o.fetchBatch) {
          inBatch = 0;
          request();
        }
      },
    });
    request();
    request();
  });
}

async function consume(nc, jsm, o) {
  const js = nc.jetstream({ timeout: 30000 });
  const durable = "bench-reader";
  try {
    await jsm.consumers.delete(o.stream, durable);
  } catch (_) {
    // did not exist
  }
  await jsm.consumers.add(o.stream, {
    durable_name: durable,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    num_replicas: 0, // the stream's (R3)
  });
  const c = await js.consumers.get(o.stream, durable);
  let got = 0;
  let bytes = 0;
  const t0 = nowNs();
  if (o.consumeMode === "pull") {
    ({ got, bytes } = await consumePull(nc, o, durable));
  } else if (o.consumeMode === "fetch") {
    while (got < o.messages) {
      const want = Math.min(o.fetchBatch, o.messages - got);
      const it = await c.fetch({ max_messages: want, expires: 5000 });
      let n = 0;
      for await (const m of it) {
        bytes += m.data.length;
        n++;
      }
      if (n === 0) throw new Error(`fetch returned nothing after ${got} of ${o.messages} messages`);
      got += n;
    }
  } else {
    const it = await c.consume({ max_messages: o.fetchBatch, expires: 5000 });
    for await (const m of it) {
      bytes += m.data.length;
      if (++got >= o.messages) break;
    }
    // the break already stopped the iterator; awaiting close() here can hang
    it.stop();
  }
  const secs = Number(nowNs() - t0) / 1e9;
  if (bytes !== got * o.size) throw new Error(`read ${bytes} bytes in ${got} messages of ${o.size}`);
  return {
    messages: got,
    seconds: +secs.toFixed(3),
    msgs_per_s: +(got / secs).toFixed(1),
    mb_per_s: +(bytes / secs / 1e6).toFixed(2),
  };
}

async function main() {
  const o = parseArgs(process.argv);
  // never hang a benchmark run: give up after --timeout seconds
  setTimeout(() => {
    process.stderr.write(`nats-bench: gave up after ${o.timeout} s\n`);
    process.exit(1);
  }, o.timeout * 1000).unref();
  const nc = await connect({
    servers: o.servers.split(","),
    maxReconnectAttempts: -1,
    timeout: 10000,
  });
  const out = {
    system: "nats",
    client: `nats.js ${require("nats/package.json").version}`,
    messages: o.messages,
    size: o.size,
    in_flight: o.inFlight,
    replicas: o.replicas,
    fetch_batch: o.fetchBatch,
    consume_mode: o.consumeMode,
    publish_mode: o.publishMode,
  };
  try {
    const jsm = await waitForJetStream(nc, 60000);
    if (o.phase !== "consume") {
      await createStream(jsm, o);
      out.produce = await produce(nc, o);
      const si = await jsm.streams.info(o.stream);
      out.stream_messages = si.state.messages;
      if (si.state.messages !== o.messages) {
        throw new Error(`stream holds ${si.state.messages} messages, published ${o.messages}`);
      }
    }
    if (o.phase !== "produce") {
      out.consume = await consume(nc, jsm, o);
    }
  } finally {
    await nc.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e) => {
  process.stderr.write(`nats-bench: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
