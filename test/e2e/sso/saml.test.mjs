// SAML 2.0 sign-in through the real platform and the sso.saml plugin (xmlsec1) against an identity provider
// built from samlify with its own signing key (generated per run with openssl). The IdP side runs in this
// process: it parses the platform's HTTP-Redirect AuthnRequest (schema-validated by samlify's xmllint
// validator), answers with a signed Response that the test posts to the ACS with the browser's cookies.
// Cases: good assertion (user, role mapping, team sync), unsigned, signed with another key, expired, wrong
// audience, wrong recipient, replayed, and the SP metadata.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as samlify from "samlify";
import * as validator from "@authenio/samlify-node-xmllint";
import { CookieJar, adminHeaders, api, request, startSsoPlatform } from "./lib.mjs";

samlify.setSchemaValidator(validator);

const PROVIDER = "TestSaml";
const IDP_ENTITY = "https://idp.test.example/saml";
const IDP_SSO_URL = "https://idp.test.example/sso";

function makeKeyPair(dir, name) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
    "-subj", `/CN=${name}`, "-keyout", key, "-out", cert,
  ], { stdio: "ignore" });
  return { key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(cert, "utf8") };
}

const isoNow = (offset_s = 0) => new Date(Date.now() + offset_s * 1000).toISOString().replace(/\.\d+Z$/, "Z");
const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

describe("SAML single sign-on (samlify IdP, xmlsec1 on the platform)", () => {
  let platform, frontend, admin, tmp, goodKeys, otherKeys, spEntityId, acs, team;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "saml-e2e-"));
    goodKeys = makeKeyPair(tmp, "idp");
    otherKeys = makeKeyPair(tmp, "intruder");
    ({ platform, frontend } = await startSsoPlatform());
    admin = await adminHeaders(frontend);
    acs = `${frontend}/api/auth/sso/saml2/sp/acs/${PROVIDER}`;
    spEntityId = `${frontend}/saml/sp`;
    const created = await api(frontend, admin, "POST", "/api/sso-providers", {
      providerId: PROVIDER,
      issuer: IDP_ENTITY,
      domain: "saml.example",
      samlConfig: { entryPoint: IDP_SSO_URL, cert: goodKeys.cert, audience: spEntityId, wantAssertionsSigned: true },
      roleMapping: { rules: [{ expression: '{{#includes groups "platform-editors"}}true{{/includes}}', role: "editor" }] },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    team = (await api(frontend, admin, "POST", "/api/teams", { name: "Research" })).body.id;
    assert.equal(
      (await api(frontend, admin, "POST", `/api/teams/${team}/external-groups`, { groupIdentifier: "research" })).status,
      200,
    );
  });

  after(async () => {
    await platform?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  function entities(keys) {
    const idp = samlify.IdentityProvider({
      entityID: IDP_ENTITY,
      privateKey: keys.key,
      signingCert: keys.cert,
      isAssertionEncrypted: false,
      singleSignOnService: [{ Binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", Location: IDP_SSO_URL }],
    });
    const sp = samlify.ServiceProvider({
      entityID: spEntityId,
      wantAssertionsSigned: true,
      authnRequestsSigned: false,
      assertionConsumerService: [{ Binding: "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", Location: acs }],
    });
    return { idp, sp };
  }

  /// Starts a sign-in, lets the samlify IdP answer, posts the answer to the ACS; returns the redirect.
  async function samlLogin(user, { keys = goodKeys, audience, recipient, expired = false, strip = false, jar } = {}) {
    jar ??= new CookieJar();
    const start = await request(jar, `${frontend}/api/auth/sign-in/sso`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: frontend },
      body: JSON.stringify({ providerId: PROVIDER, callbackURL: "/welcome" }),
    });
    assert.equal(start.status, 200, await start.clone().text());
    const { url } = await start.json();
    assert.ok(url.startsWith(`${IDP_SSO_URL}?SAMLRequest=`), url);
    const query = Object.fromEntries(new URL(url).searchParams);
    const { idp, sp } = entities(keys);
    const parsed = await idp.parseLoginRequest(sp, "redirect", { query });
    const requestId = parsed.extract.request.id;
    assert.equal(parsed.extract.issuer, spEntityId);

    const until = expired ? isoNow(-300) : isoNow(300);
    const attributes = [
      `<saml:Attribute Name="email"><saml:AttributeValue>${esc(user.email)}</saml:AttributeValue></saml:Attribute>`,
      `<saml:Attribute Name="displayName"><saml:AttributeValue>${esc(user.name ?? "")}</saml:AttributeValue></saml:Attribute>`,
      `<saml:Attribute Name="groups">${(user.groups ?? []).map((g) => `<saml:AttributeValue>${esc(g)}</saml:AttributeValue>`).join("")}</saml:Attribute>`,
    ].join("");
    const assertionId = `_a${crypto.randomBytes(16).toString("hex")}`;
    const responseId = `_r${crypto.randomBytes(16).toString("hex")}`;
    const xml =
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${responseId}" Version="2.0" IssueInstant="${isoNow()}" Destination="${esc(acs)}" InResponseTo="${requestId}">` +
      `<saml:Issuer>${IDP_ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
      `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${assertionId}" Version="2.0" IssueInstant="${isoNow(expired ? -900 : 0)}">` +
      `<saml:Issuer>${IDP_ENTITY}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">${esc(user.email)}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${until}" Recipient="${esc(recipient ?? acs)}" InResponseTo="${requestId}"/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${isoNow(expired ? -900 : -5)}" NotOnOrAfter="${until}"><saml:AudienceRestriction><saml:Audience>${esc(audience ?? spEntityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${isoNow()}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      `<saml:AttributeStatement>${attributes}</saml:AttributeStatement></saml:Assertion></samlp:Response>`;
    const made = await idp.createLoginResponse(
      sp,
      { extract: { request: { id: requestId } } },
      "post",
      { email: user.email },
      { relayState: query.RelayState, customTagReplacement: () => ({ id: responseId, context: xml }) },
    );
    let samlResponse = made.context;
    const signed = Buffer.from(samlResponse, "base64").toString("utf8");
    assert.match(signed, /<ds:Signature/, "samlify signed the assertion");
    if (strip) {
      samlResponse = Buffer.from(signed.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/g, "")).toString("base64");
    }
    const form = new URLSearchParams({ SAMLResponse: samlResponse, RelayState: query.RelayState }).toString();
    const post = async (withJar) =>
      request(withJar, acs, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: "null" },
        body: form,
      });
    const stateCookie = jar.get(frontend, "archestra.sso_state");
    const res = await post(jar);
    assert.equal(res.status, 302, await res.clone().text());
    return {
      location: res.headers.get("location"),
      jar,
      session: jar.get(frontend, "archestra.session_token"),
      replay: async () => {
        const replayJar = new CookieJar();
        replayJar.set(frontend, "archestra.sso_state", stateCookie);
        const again = await post(replayJar);
        return { location: again.headers.get("location"), session: replayJar.get(frontend, "archestra.session_token") };
      },
    };
  }

  test("a signed assertion signs the user in: created, role mapped, team synced", async () => {
    const login = await samlLogin({ email: "Sam@Saml.example", name: "Sam", groups: ["Research", "platform-editors"] });
    assert.equal(login.location, "/welcome", decodeURIComponent(login.location));
    assert.ok(login.session);
    const session = await (await request(login.jar, `${frontend}/api/auth/get-session`)).json();
    assert.equal(session.user.email, "sam@saml.example");
    assert.equal(session.user.name, "Sam");
    const rows = await platform.psql(
      `SELECT m.role, (SELECT string_agg(t.name || ':' || tm.synced_from_sso, ',') FROM team_member tm JOIN team t ON t.id = tm.team_id WHERE tm.user_id = u.id) FROM member m JOIN "user" u ON u.id = m.user_id WHERE u.email = 'sam@saml.example'`,
    );
    assert.deepEqual(rows, [["editor", "Research:true"]]);
  });

  test("the same assertion posted again is refused (replay)", async () => {
    const login = await samlLogin({ email: "rita@saml.example", groups: [] });
    assert.equal(login.location, "/welcome");
    const replay = await login.replay();
    assert.match(replay.location, /error=invalid_response/);
    assert.match(decodeURIComponent(replay.location), /already used/);
    assert.equal(replay.session, undefined);
    // remembered in the database (shared by replicas), not only in the plugin's memory
    const remembered = await platform.psql("SELECT count(*) FROM verification WHERE identifier = 'saml-assertion'");
    assert.ok(Number(remembered[0][0]) >= 2, `assertion ids in verification: ${remembered[0][0]}`);
  });

  test("an unsigned response is refused", async () => {
    const login = await samlLogin({ email: "uma@saml.example" }, { strip: true });
    assert.match(login.location, /error=invalid_response/);
    assert.match(decodeURIComponent(login.location), /not signed/);
    assert.equal(login.session, undefined);
  });

  test("a response signed with another key is refused", async () => {
    const login = await samlLogin({ email: "ivan@saml.example" }, { keys: otherKeys });
    assert.match(login.location, /error=invalid_response/);
    assert.match(decodeURIComponent(login.location), /signature does not verify/);
    assert.equal(login.session, undefined);
  });

  test("an expired assertion is refused", async () => {
    const login = await samlLogin({ email: "eve@saml.example" }, { expired: true });
    assert.match(login.location, /error=invalid_response/);
    assert.match(decodeURIComponent(login.location), /expired/);
    assert.equal(login.session, undefined);
  });

  test("an assertion for another audience is refused", async () => {
    const login = await samlLogin({ email: "alan@saml.example" }, { audience: "https://other-sp.example" });
    assert.match(login.location, /error=invalid_response/);
    assert.match(decodeURIComponent(login.location), /audience/);
    assert.equal(login.session, undefined);
  });

  test("an assertion for another recipient is refused", async () => {
    const login = await samlLogin({ email: "rob@saml.example" }, { recipient: "https://elsewhere.example/acs" });
    assert.match(login.location, /error=invalid_response/);
    assert.match(decodeURIComponent(login.location), /Recipient/);
  });

  test("SP metadata names the entity id and the ACS", async () => {
    const res = await fetch(`${frontend}/api/auth/sso/saml2/sp/metadata?providerId=${PROVIDER}`);
    assert.equal(res.status, 200);
    const xml = await res.text();
    assert.match(xml, new RegExp(`entityID="${spEntityId.replace(/[.]/g, "\\.")}"`));
    assert.ok(xml.includes(`Location="${acs}"`), xml);
    // samlify accepts it as SP metadata
    const sp = samlify.ServiceProvider({ metadata: xml });
    assert.equal(sp.entityMeta.getEntityID(), spEntityId);
  });
});
