// Requests a test sends to a gateway when all it wants back is the status,
// or a yes/no it asks again until the answer holds.
import assert from 'node:assert/strict';
import { request, Agent } from 'undici';

/** The status of a GET to the gateway's listener on 127.0.0.1:`port`. */
export async function statusAt(port: number, path: string): Promise<number> {
  const r = await request(`http://127.0.0.1:${port}${path}`);
  await r.body.dump();
  return r.statusCode;
}

/** The status of a GET on a connection of its own (an Agent made for it, closed after). */
export async function statusOnNewConnection(url: string, agentOptions: Agent.Options = {}): Promise<number> {
  const agent = new Agent(agentOptions);
  try {
    const r = await request(url, { dispatcher: agent });
    await r.body.dump();
    return r.statusCode;
  } finally {
    await agent.close();
  }
}

/** Ask until `ok` holds `n` times in a row (a health verdict takes a few intervals); fails past `ms`. */
export async function untilStreak(what: string, ms: number, n: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (let streak = 0; streak < n;) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    if (await ok()) streak++;
    else {
      streak = 0;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
