// Sign-in must not tell an attacker which emails have accounts: an unknown email and a wrong password for a
// real account take the same time (within 10 %) and give the same answer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startPlatform, ADMIN_EMAIL } from "../lib/harness.mjs";
import { recordReliability } from "../lib/reliability.mjs";
import { productRule } from "../lib/instrumented.mjs";

let platform;

before(async () => {
  platform = await startPlatform();
});

after(async () => {
  await platform?.stop();
});

async function signIn(email, password) {
  const started = process.hrtime.bigint();
  const res = await fetch(`${platform.baseUrl}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: `http://localhost:${platform.apiPort}` },
    body: JSON.stringify({ email, password }),
  });
  const body = await res.text();
  return { status: res.status, body, ms: Number(process.hrtime.bigint() - started) / 1e6 };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

test("unknown email and wrong password: same answer, same time within 10 %", async () => {
  // The account lock-out starts at 10 failures per account and 30 per address, so 9 of each, interleaved so
  // that machine load drifts affect both series alike.
  const unknown = [];
  const wrong = [];
  await signIn(`warmup-${Date.now()}@example.com`, "x");
  for (let i = 0; i < 9; i++) {
    const a = await signIn(`nobody-${i}-${Date.now()}@example.com`, "not-the-password");
    const b = await signIn(ADMIN_EMAIL, `wrong-password-${i}`);
    assert.equal(a.status, 401, `unknown email: ${a.status} ${a.body}`);
    assert.equal(b.status, 401, `wrong password: ${b.status} ${b.body}`);
    assert.equal(a.body, b.body, "the two failures must read the same");
    unknown.push(a.ms);
    wrong.push(b.ms);
  }
  const mu = median(unknown);
  const mw = median(wrong);
  const diff = Math.abs(mu - mw) / Math.max(mu, mw);
  console.log(`sign-in failure median: unknown email ${mu.toFixed(1)} ms, wrong password ${mw.toFixed(1)} ms (${(diff * 100).toFixed(1)} % apart)`);
  productRule(diff <= 0.1, `timing differs by ${(diff * 100).toFixed(1)} %`);
  recordReliability("hardening-auth-timing", [
    {
      what: "Sign-in timing: unknown email vs wrong password (rule: within 10 %)",
      how: "e2e_hardening_auth_timing: median of 9 interleaved failed sign-ins each, same 401 body",
      figure: `${mu.toFixed(1)} ms vs ${mw.toFixed(1)} ms (${(diff * 100).toFixed(1)} % apart)`,
    },
  ]);
});
