// Sign in (password form unless basic auth is disabled, one button per SSO provider) and sign up through an
// invitation link.
import { useEffect, useState } from "preact/hooks";
import { api, raw, unwrap } from "../api/client";
import { ErrorBox, Field, Spinner, useSubmit } from "../components/ui";
import { navigate, useLocation } from "../lib/router";
import { useSession } from "../lib/session";

function AuthCard({ title, children }: { title: string; children: preact.ComponentChildren }) {
  return (
    <div class="auth-page">
      <main class="auth-card" id="main">
        <div class="brand auth-brand">
          <span class="brand-mark" aria-hidden="true">
            ◆
          </span>
          Archestra
        </div>
        <h1>{title}</h1>
        {children}
      </main>
    </div>
  );
}

export function SignInPage() {
  const { features, refresh } = useSession();
  const { query } = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [providers, setProviders] = useState<{ id: string; providerId: string }[]>([]);
  const [defaultCreds, setDefaultCreds] = useState(false);
  const { busy, error, submit } = useSubmit(async () => {
    await unwrap(api.POST("/api/auth/sign-in/email", { body: { email, password } }));
    await refresh();
    navigate(query.get("next") || "/profiles", true);
  });
  useEffect(() => {
    raw<{ id: string; providerId: string }[]>("GET", "/api/sso-providers/public").then(
      (p) => setProviders(Array.isArray(p) ? p : []),
      () => setProviders([]),
    );
    unwrap(api.GET("/api/auth/default-credentials-status")).then(
      (s) => setDefaultCreds(!!(s as { enabled?: boolean }).enabled),
      () => {},
    );
  }, []);
  const sso = useSubmit(async (providerId: string) => {
    const answer = await raw<{ url: string }>("POST", "/api/auth/sign-in/sso", {
      providerId,
      callbackURL: location.origin + "/profiles",
    });
    location.assign(answer.url);
  });
  return (
    <AuthCard title="Sign in">
      {defaultCreds && (
        <div class="banner banner-warn" role="status">
          The admin account still uses the default password. Sign in and change it under Settings → Account.
        </div>
      )}
      {!features.basicAuthDisabled && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <Field label="Email">
            <input class="input" type="email" name="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          </Field>
          <Field label="Password">
            <input class="input" type="password" name="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </Field>
          {error && <ErrorBox error={error} />}
          <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
      )}
      {providers.length > 0 && (
        <div class="sso-list">
          {!features.basicAuthDisabled && <div class="divider">or</div>}
          {providers.map((p) => (
            <button type="button" class="btn btn-block" disabled={sso.busy} onClick={() => sso.submit(p.providerId)}>
              Sign in with {p.providerId}
            </button>
          ))}
          {sso.error && <ErrorBox error={sso.error} />}
        </div>
      )}
      {features.basicAuthDisabled && providers.length === 0 && <p class="muted">No sign-in method is configured.</p>}
    </AuthCard>
  );
}

interface InvitationCheck {
  invitation: { id: string; email: string; status: string; expiresAt: string | null };
  userExists: boolean;
}

export function SignUpWithInvitationPage() {
  const { query } = useLocation();
  const { refresh } = useSession();
  const invitationId = query.get("invitationId") ?? "";
  const [check, setCheck] = useState<InvitationCheck>();
  const [checkError, setCheckError] = useState<string>();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  useEffect(() => {
    if (!invitationId) {
      setCheckError("This link has no invitation id.");
      return;
    }
    raw<InvitationCheck>("GET", `/api/invitation/${encodeURIComponent(invitationId)}/check`).then(setCheck, (e: Error) =>
      setCheckError(e.message),
    );
  }, [invitationId]);
  const { busy, error, submit } = useSubmit(async () => {
    await unwrap(
      api.POST("/api/auth/sign-up/email", {
        body: {
          name,
          email: check!.invitation.email,
          password,
          callbackURL: `/auth/sign-up-with-invitation?invitationId=${encodeURIComponent(invitationId)}`,
        },
      }),
    );
    await refresh();
    navigate("/profiles", true);
  });
  return (
    <AuthCard title="Accept your invitation">
      {checkError ? (
        <ErrorBox error={checkError} />
      ) : !check ? (
        <Spinner />
      ) : check.userExists ? (
        <p>
          An account for <strong>{check.invitation.email}</strong> exists. <a href={`/auth/sign-in`}>Sign in</a> to join the
          organization.
        </p>
      ) : (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <p>
            You were invited as <strong>{check.invitation.email}</strong>. Choose a name and password.
          </p>
          <Field label="Name">
            <input class="input" name="name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field label="Password" hint="At least 8 characters">
            <input class="input" type="password" name="password" autoComplete="new-password" required minLength={8} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </Field>
          {error && <ErrorBox error={error} />}
          <button type="submit" class="btn btn-primary btn-block" disabled={busy}>
            {busy ? "Creating account…" : "Create account"}
          </button>
        </form>
      )}
    </AuthCard>
  );
}
