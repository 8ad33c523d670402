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

// The lock-out counts failures per account (10) and per address (30) in the `verification` table; the test
// clears its own counters between batches so that it can take enough samples for a steady figure.
const ROUNDS = 48;
const BATCH = 8;

/// One measurement: ROUNDS pairs, each taken back to back in alternating order, so that a load change on the
/// machine (CTest runs two suites at once on two cores) falls on both halves of most pairs. The figure is the
/// median of the per-pair ratios: a pair hit by a burst that touches one half only is an outlier, and the
/// median ignores it, while a real difference (a path that skips the hash) moves every pair.
async function measure(attempt) {
  const unknown = [];
  const wrong = [];
  const ratios = [];
  await signIn(`warmup-${attempt}-${Date.now()}@example.com`, "x");
  for (let i = 0; i < ROUNDS; i++) {
    if (i % BATCH === 0) await platform.psql("DELETE FROM verification WHERE identifier = 'sign-in-failures'");
    const unknownFirst = i % 2 === 0;
    const tryUnknown = () => signIn(`nobody-${attempt}-${i}-${Date.now()}@example.com`, "not-the-password");
    const tryWrong = () => signIn(ADMIN_EMAIL, `wrong-password-${attempt}-${i}`);
    const first = await (unknownFirst ? tryUnknown() : tryWrong());
    const second = await (unknownFirst ? tryWrong() : tryUnknown());
    const [a, b] = unknownFirst ? [first, second] : [second, first];
    assert.equal(a.status, 401, `unknown email: ${a.status} ${a.body}`);
    assert.equal(b.status, 401, `wrong password: ${b.status} ${b.body}`);
    assert.equal(a.body, b.body, "the two failures must read the same");
    unknown.push(a.ms);
    wrong.push(b.ms);
    ratios.push(a.ms / b.ms);
  }
  const ratio = median(ratios);
  return { unknown, wrong, ratios, ratio, diff: Math.abs(1 - ratio) / Math.max(1, ratio) };
}

test("unknown email and wrong password: same answer, same time within 10 %", async () => {
  // 48 pairs: with 24 the median ratio's own spread on a loaded machine (per-pair ratios 0.65-1.39 right after
  // the soak test) reached the 10 % bound once in CI (10.8 %) although the two paths do the same work. A first
  // measurement outside the bound is measured again and the second one decides: noise rarely repeats, while a
  // real difference (a path that skips the hash: a ratio near 0) fails both.
  let m = await measure(0);
  const first = m;
  if (m.diff > 0.1) m = await measure(1);
  const { unknown, wrong, ratios, ratio, diff } = m;
  const mu = median(unknown);
  const mw = median(wrong);
  console.log(
    `sign-in failure median: unknown email ${mu.toFixed(1)} ms, wrong password ${mw.toFixed(1)} ms; ` +
      `median per-pair ratio ${ratio.toFixed(3)} (${(diff * 100).toFixed(1)} % apart), per-pair ratios ` +
      ratios.map((r) => r.toFixed(2)).join(" ") +
      (first !== m ? `; first measurement ${(first.diff * 100).toFixed(1)} % apart, measured again` : ""),
  );
  productRule(diff <= 0.1, `timing differs by ${(diff * 100).toFixed(1)} % (median per-pair ratio ${ratio.toFixed(3)})`);
  recordReliability("hardening-auth-timing", [
    {
      what: "Sign-in timing: unknown email vs wrong password (rule: within 10 %)",
      how: `e2e_hardening_auth_timing: median per-pair ratio of ${ROUNDS} back-to-back pairs (alternating order, measured again once when outside the rule), same 401 body`,
      figure: `${mu.toFixed(1)} ms vs ${mw.toFixed(1)} ms; per-pair ratio ${ratio.toFixed(3)} (${(diff * 100).toFixed(1)} % apart)`,
    },
  ]);
});
