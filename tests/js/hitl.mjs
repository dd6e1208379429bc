// The seeds' JS snippets against relaygraph: edit text (wait + Command resume)
// and review tool calls (stream "updates"); then a stream in "messages" mode
// and a cron. Prints one JSON line of findings; tests/e2e/test_js_sdk.py
// checks them.
import { Client } from "@langchain/langgraph-sdk";

const client = new Client({ apiUrl: process.env.RELAYGRAPH_URL });
const out = {};

const thread = await client.threads.create();
const first = await client.runs.wait(thread.thread_id, "agent", {
  input: { some_text: "original text" },
});
out.interrupt = first.__interrupt__;
out.resumed = await client.runs.wait(thread.thread_id, "agent", {
  command: { resume: "Edited text" },
});

const review = await client.threads.create();
const events = [];
for await (const chunk of client.runs.stream(review.thread_id, "review", {
  input: { messages: [{ role: "user", content: "what's the weather in sf?" }] },
  streamMode: "updates",
})) {
  events.push([chunk.event, chunk.event === "metadata" ? null : Object.keys(chunk.data)]);
}
for await (const chunk of client.runs.stream(review.thread_id, "review", {
  command: { resume: { action: "continue" } },
  streamMode: "updates",
})) {
  events.push([chunk.event, chunk.event === "metadata" ? null : Object.keys(chunk.data ?? {})]);
}
out.events = events;
out.state = (await client.threads.getState(review.thread_id)).values.messages.at(-1).content;

const chat = [];
for await (const chunk of client.runs.stream(null, "chat", {
  input: { messages: [{ role: "user", content: "hi" }] },
  streamMode: "messages",
})) {
  chat.push([chunk.event, chunk.event === "messages/partial" ? chunk.data[0].content : null]);
}
out.chat = chat;

const ticking = await client.threads.create();
const cron = await client.crons.createForThread(ticking.thread_id, "slow", {
  schedule: "* * * * * *",
  input: { seconds: 0.01 },
  metadata: { from: "js" },
});
let fired = [];
for (let i = 0; i < 100 && fired.length === 0; i++) {
  await new Promise((done) => setTimeout(done, 100));
  fired = await client.runs.list(ticking.thread_id);
}
out.cron = {
  listed: (await client.crons.search({ threadId: ticking.thread_id })).map((c) => c.cron_id),
  id: cron.cron_id,
  firedWith: fired[0]?.metadata?.from,
};
await client.crons.delete(cron.cron_id);
console.log(JSON.stringify(out));
