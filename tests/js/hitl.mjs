// The seeds' JS snippets against relaygraph: edit text (wait + Command resume)
// and review tool calls (stream "updates"). Prints one JSON line of findings;
// tests/e2e/test_js_sdk.py checks them.
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
console.log(JSON.stringify(out));
