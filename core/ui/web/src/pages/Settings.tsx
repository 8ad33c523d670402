// Settings: Account (password, API keys), Members and invitations, Teams and tokens, Secrets backend, Dual LLM,
// Roles and SSO providers (enterprise).
import { useState } from "preact/hooks";
import { api, raw, unwrap } from "../api/client";
import { actionsColumn, DataTable, deleteColumn, DeleteButton, EditDeleteActions } from "../components/DataTable";
import { Badge, ConfirmButton, CopyButton, CopyField, ErrorBox, Field, fieldErrors, FormDialog, Modal, PageHeader, Spinner, Tabs, useEditor, useSubmit } from "../components/ui";
import { formatTime, useLoad } from "../lib/hooks";
import { navigate, useLocation } from "../lib/router";
import { useSession } from "../lib/session";

export function SettingsPage() {
  const { path } = useLocation();
  const { features } = useSession();
  const tab = path.split("/")[2] || "account";
  const tabs = [
    { id: "account", label: "Account" },
    { id: "members", label: "Members" },
    { id: "teams", label: "Teams & tokens" },
    { id: "secrets", label: "Secrets" },
    { id: "dual-llm", label: "Dual LLM" },
    { id: "chat", label: "Chat" },
    ...(features.enterprise
      ? [
          { id: "roles", label: "Roles" },
          { id: "sso-providers", label: "SSO providers" },
        ]
      : []),
  ];
  return (
    <>
      <PageHeader title="Settings" />
      <Tabs tabs={tabs} current={tab} onSelect={(id) => navigate(`/settings/${id}`)} />
      {tab === "account" && <AccountSettings />}
      {tab === "members" && <MembersSettings />}
      {tab === "teams" && <TeamsSettings />}
      {tab === "secrets" && <SecretsSettings />}
      {tab === "dual-llm" && <DualLlmSettings />}
      {tab === "chat" && <ChatSettings />}
      {tab === "roles" && features.enterprise && <RolesSettings />}
      {tab === "sso-providers" && features.enterprise && <SsoSettings />}
    </>
  );
}

// ---- Account ------------------------------------------------------------------------------------------------

interface ApiKey {
  id: string;
  name: string | null;
  start: string | null;
  enabled: boolean;
  expiresAt: string | null;
  createdAt: string;
  lastRequest?: string | null;
}

function AccountSettings() {
  const { user } = useSession();
  return (
    <div class="stack">
      <section class="card" aria-label="Profile">
        <h2>Account</h2>
        <p>
          Signed in as <strong>{user?.name}</strong> ({user?.email})
        </p>
      </section>
      <ChangePassword />
      <ApiKeys />
    </div>
  );
}

function ChangePassword() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [done, setDone] = useState(false);
  const { busy, error, submit } = useSubmit(async () => {
    await unwrap(api.POST("/api/auth/change-password", { body: { currentPassword: current, newPassword: next, revokeOtherSessions: true } }));
    setCurrent("");
    setNext("");
    setDone(true);
  });
  return (
    <section class="card" aria-label="Change password">
      <h2>Change password</h2>
      <form
        class="form-narrow"
        onSubmit={(e) => {
          e.preventDefault();
          setDone(false);
          submit();
        }}
      >
        <Field label="Current password">
          <input class="input" type="password" autoComplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
        </Field>
        <Field label="New password" hint="At least 8 characters">
          <input class="input" type="password" autoComplete="new-password" required minLength={8} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
        </Field>
        {error && <ErrorBox error={error} />}
        {done && (
          <p class="ok" role="status">
            Password changed.
          </p>
        )}
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? "Saving…" : "Change password"}
        </button>
      </form>
    </section>
  );
}

const expiryChoices = [
  { label: "Never", seconds: 0 },
  { label: "7 days", seconds: 7 * 86400 },
  { label: "30 days", seconds: 30 * 86400 },
  { label: "90 days", seconds: 90 * 86400 },
  { label: "1 year", seconds: 365 * 86400 },
];

function ApiKeys() {
  const keys = useLoad(() => unwrap(api.GET("/api/auth/api-key/list")) as Promise<ApiKey[]>);
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState("");
  const [expiry, setExpiry] = useState(0);
  const [created, setCreated] = useState<string>();
  const { busy, error, submit } = useSubmit(async () => {
    const answer = (await unwrap(
      api.POST("/api/auth/api-key/create", { body: { name, expiresIn: expiry ? expiry : null } as never }),
    )) as { key?: string };
    setCreated(answer.key);
    setName("");
    keys.reload();
  });
  return (
    <section class="card" aria-label="API keys">
      <div class="card-header">
        <h2>API keys</h2>
        <button type="button" class="btn btn-primary" onClick={() => { setCreated(undefined); setCreating(true); }}>
          Create API key
        </button>
      </div>
      <p class="muted">For the REST API and the Terraform provider: send the key as the whole Authorization header value.</p>
      <DataTable
        label="API keys"
        rows={keys.data}
        loading={keys.loading}
        error={keys.error}
        onRetry={keys.reload}
        rowKey={(k) => k.id}
        emptyTitle="No API keys"
        pageSize={5}
        defaultSort={{ key: "createdAt", dir: "desc" }}
        columns={[
          { key: "name", label: "Name", value: (k) => k.name ?? "—" },
          { key: "start", label: "Key", value: (k) => (k.start ? `${k.start}…` : "—") },
          { key: "createdAt", label: "Created", value: (k) => k.createdAt, render: (k) => formatTime(k.createdAt) },
          { key: "expiresAt", label: "Expires", value: (k) => k.expiresAt ?? "", render: (k) => (k.expiresAt ? formatTime(k.expiresAt) : "Never") },
          deleteColumn<ApiKey>((k) => ({
            label: "Revoke",
            title: `Revoke API key ${k.name ?? k.start ?? ""}?`,
            message: "Anything using this key stops working immediately.",
            remove: () => unwrap(api.POST("/api/auth/api-key/delete", { body: { keyId: k.id } })),
            done: keys.reload,
          })),
        ]}
      />
      <Modal title={created ? "API key created" : "Create API key"} open={creating} onClose={() => { setCreating(false); setCreated(undefined); }}>
        {created ? (
          <div>
            <div class="banner banner-warn" role="status">
              Copy the key now: it is shown only once.
            </div>
            <CopyField label="API key" value={created} />
            <div class="form-actions">
              <button type="button" class="btn btn-primary" onClick={() => { setCreating(false); setCreated(undefined); }}>
                Done
              </button>
            </div>
          </div>
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              submit();
            }}
          >
            <Field label="Name">
              <input class="input" name="apiKeyName" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </Field>
            <Field label="Expires">
              <select class="input" value={String(expiry)} onChange={(e) => setExpiry(Number(e.currentTarget.value))}>
                {expiryChoices.map((c) => (
                  <option value={String(c.seconds)}>{c.label}</option>
                ))}
              </select>
            </Field>
            {error && <ErrorBox error={error} />}
            <div class="form-actions">
              <button type="submit" class="btn btn-primary" disabled={busy}>
                {busy ? "Creating…" : "Create"}
              </button>
            </div>
          </form>
        )}
      </Modal>
    </section>
  );
}

// ---- Members and invitations ----------------------------------------------------------------------------------

interface Member {
  id: string;
  userId: string;
  role: string;
  createdAt: string;
  user?: { name: string; email: string };
}
interface Invitation {
  id: string;
  email: string;
  role: string | null;
  status: string;
  expiresAt: string;
}

const roles = ["admin", "editor", "member"];
export const invitationLink = (i: { id: string; email: string }) =>
  `${location.origin}/auth/sign-up-with-invitation?invitationId=${encodeURIComponent(i.id)}&email=${encodeURIComponent(i.email)}`;

function MembersSettings() {
  const { features } = useSession();
  const members = useLoad(async () => ((await unwrap(api.GET("/api/auth/organization/list-members"))) as { members: Member[] }).members);
  const invitations = useLoad(
    () => (features.invitationsDisabled ? Promise.resolve([]) : (unwrap(api.GET("/api/auth/organization/list-invitations")) as Promise<Invitation[]>)),
    [features.invitationsDisabled],
  );
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("member");
  const [lastInvite, setLastInvite] = useState<Invitation>();
  const invite = useSubmit(async () => {
    const inv = (await unwrap(api.POST("/api/auth/organization/invite-member", { body: { email, role } }))) as Invitation;
    setLastInvite(inv);
    setEmail("");
    invitations.reload();
  });
  const [roleError, setRoleError] = useState<string>();
  // With the enterprise licence, custom roles can be given to members and invitations too.
  const customRoles = useLoad(
    async () => (features.enterprise ? ((await unwrap(api.GET("/api/roles"))) as Role[]).map((r) => r.role) : []),
    [features.enterprise],
  );
  const roleChoices = [...new Set([...roles, ...(customRoles.data ?? [])])];
  return (
    <div class="stack">
      <section class="card" aria-label="Members">
        <h2>Members</h2>
        {roleError && <ErrorBox error={roleError} />}
        <DataTable
          label="Members"
          rows={members.data}
          loading={members.loading}
          error={members.error}
          onRetry={members.reload}
          rowKey={(m) => m.id}
          emptyTitle="No members"
          columns={[
            { key: "name", label: "Name", value: (m) => m.user?.name ?? "—" },
            { key: "email", label: "Email", value: (m) => m.user?.email ?? "—" },
            {
              key: "role",
              label: "Role",
              value: (m) => m.role,
              render: (m) => (
                <select
                  class="input"
                  aria-label={`Role of ${m.user?.email}`}
                  value={m.role}
                  onChange={async (e) => {
                    setRoleError(undefined);
                    try {
                      await unwrap(api.POST("/api/auth/organization/update-member-role", { body: { memberId: m.id, role: e.currentTarget.value } }));
                    } catch (err) {
                      setRoleError((err as Error).message);
                    }
                    members.reload();
                  }}
                >
                  {[...new Set([...roleChoices, m.role])].map((r) => (
                    <option value={r}>{r}</option>
                  ))}
                </select>
              ),
            },
            { key: "createdAt", label: "Joined", value: (m) => m.createdAt, render: (m) => formatTime(m.createdAt) },
            deleteColumn<Member>((m) => ({
              label: "Remove",
              title: `Remove ${m.user?.email}?`,
              message: "They lose access to this organization.",
              remove: () => unwrap(api.POST("/api/auth/organization/remove-member", { body: { memberIdOrEmail: m.id } })),
              done: members.reload,
            })),
          ]}
        />
      </section>
      {!features.invitationsDisabled && (
        <section class="card" aria-label="Invitations">
          <h2>Invitations</h2>
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              invite.submit();
            }}
          >
            <Field label="Email">
              <input class="input" type="email" name="inviteEmail" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
            </Field>
            <Field label="Role">
              <select class="input" name="inviteRole" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
                {roleChoices.map((r) => (
                  <option value={r}>{r}</option>
                ))}
              </select>
            </Field>
            <button type="submit" class="btn btn-primary" disabled={invite.busy}>
              {invite.busy ? "Inviting…" : "Invite"}
            </button>
          </form>
          {invite.error && <ErrorBox error={invite.error} />}
          {lastInvite && (
            <div class="banner banner-info" role="status">
              Invitation created for {lastInvite.email}. Send them this link:
              <CopyField label="Invitation link" value={invitationLink(lastInvite)} />
            </div>
          )}
          <DataTable
            label="Invitations"
            rows={invitations.data}
            loading={invitations.loading}
            error={invitations.error}
            onRetry={invitations.reload}
            rowKey={(i) => i.id}
            emptyTitle="No invitations"
            columns={[
              { key: "email", label: "Email" },
              { key: "role", label: "Role", value: (i) => i.role ?? "member" },
              { key: "status", label: "Status", value: (i) => i.status, render: (i) => <Badge tone={i.status === "pending" ? "warn" : i.status === "accepted" ? "good" : "neutral"}>{i.status}</Badge> },
              { key: "expiresAt", label: "Expires", value: (i) => i.expiresAt, render: (i) => formatTime(i.expiresAt) },
              {
                key: "actions",
                label: "Actions",
                sortable: false,
                render: (i) =>
                  i.status === "pending" ? (
                    <div class="row-actions">
                      <CopyButton text={invitationLink(i)} label="Copy link" />
                      <ConfirmButton
                        label="Cancel"
                        confirmLabel="Cancel invitation"
                        title={`Cancel the invitation for ${i.email}?`}
                        message="The link stops working."
                        onConfirm={async () => {
                          await unwrap(api.POST("/api/auth/organization/cancel-invitation", { body: { invitationId: i.id } }));
                          invitations.reload();
                        }}
                      />
                    </div>
                  ) : null,
              },
            ]}
          />
        </section>
      )}
    </div>
  );
}

// ---- Teams and tokens -----------------------------------------------------------------------------------------

interface Team {
  id: string;
  name: string;
  description: string | null;
  createdAt: string;
}
interface Token {
  id: string;
  name: string;
  tokenStart: string;
  isOrganizationToken: boolean;
  team: { id: string; name: string } | null;
  createdAt: string;
  lastUsedAt: string | null;
}

function TeamsSettings() {
  const teams = useLoad(() => unwrap(api.GET("/api/teams")) as Promise<Team[]>);
  const tokens = useLoad(() => raw<Token[]>("GET", "/api/tokens"));
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [revealed, setRevealed] = useState<Record<string, string>>({});
  const [managing, setManaging] = useState<Team>();
  const create = useSubmit(async () => {
    await unwrap(api.POST("/api/teams", { body: { name, description: description || undefined } as never }));
    setName("");
    setDescription("");
    teams.reload();
  });
  return (
    <div class="stack">
      <section class="card" aria-label="Teams">
        <h2>Teams</h2>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            create.submit();
          }}
        >
          <Field label="Team name">
            <input class="input" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </Field>
          <Field label="Description">
            <input class="input" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          </Field>
          <button type="submit" class="btn btn-primary" disabled={create.busy}>
            Create team
          </button>
        </form>
        {create.error && <ErrorBox error={create.error} />}
        <DataTable
          label="Teams"
          rows={teams.data}
          loading={teams.loading}
          error={teams.error}
          onRetry={teams.reload}
          rowKey={(t) => t.id}
          emptyTitle="No teams"
          columns={[
            { key: "name", label: "Name" },
            { key: "description", label: "Description", value: (t) => t.description ?? "—" },
            { key: "createdAt", label: "Created", value: (t) => t.createdAt, render: (t) => formatTime(t.createdAt) },
            actionsColumn<Team>((t) => (
              <>
                <button type="button" class="btn btn-small" onClick={() => setManaging(t)}>
                  Members
                </button>
                <DeleteButton
                  title={`Delete team ${t.name}?`}
                  message="Profiles assigned only to this team become visible to admins only."
                  remove={() => unwrap(api.DELETE("/api/teams/{id}", { params: { path: { id: t.id } } }))}
                  done={teams.reload}
                />
              </>
            )),
          ]}
        />
        {managing && <TeamMembersDialog team={managing} onClose={() => setManaging(undefined)} />}
      </section>
      <section class="card" aria-label="Tokens">
        <h2>MCP gateway tokens</h2>
        <p class="muted">The organization token and one token per team authenticate MCP clients at the gateway.</p>
        <DataTable
          label="Tokens"
          rows={tokens.data}
          loading={tokens.loading}
          error={tokens.error}
          onRetry={tokens.reload}
          rowKey={(t) => t.id}
          emptyTitle="No tokens"
          columns={[
            { key: "name", label: "Name" },
            { key: "scope", label: "Scope", value: (t) => (t.isOrganizationToken ? "Organization" : t.team?.name ?? "—") },
            { key: "tokenStart", label: "Token", render: (t) => (revealed[t.id] ? <code>{revealed[t.id]}</code> : <code>{t.tokenStart}…</code>), value: (t) => t.tokenStart },
            { key: "lastUsedAt", label: "Last used", value: (t) => t.lastUsedAt ?? "", render: (t) => formatTime(t.lastUsedAt) },
            {
              key: "actions",
              label: "Actions",
              sortable: false,
              render: (t) => (
                <div class="row-actions">
                  {revealed[t.id] ? (
                    <CopyButton text={revealed[t.id]} />
                  ) : (
                    <button
                      type="button"
                      class="btn btn-small"
                      onClick={async () => {
                        const v = await raw<{ value: string }>("GET", `/api/tokens/${t.id}/value`);
                        setRevealed({ ...revealed, [t.id]: v.value });
                      }}
                    >
                      Show
                    </button>
                  )}
                  <ConfirmButton
                    label="Rotate"
                    confirmLabel="Rotate"
                    title={`Rotate ${t.name}?`}
                    message="MCP clients using the current value must be updated."
                    onConfirm={async () => {
                      const v = await raw<{ value: string }>("POST", `/api/tokens/${t.id}/rotate`);
                      setRevealed({ ...revealed, [t.id]: v.value });
                      tokens.reload();
                    }}
                  />
                </div>
              ),
            },
          ]}
        />
      </section>
    </div>
  );
}

interface TeamMember {
  id: string;
  userId: string;
  role: string;
  syncedFromSso: boolean;
}
interface ExternalGroup {
  id: string;
  groupIdentifier: string;
}

/// A team's members (organization members added or removed) and, with the enterprise licence, the identity
/// provider groups whose users single sign-on adds to it.
function TeamMembersDialog({ team, onClose }: { team: Team; onClose: () => void }) {
  const { features } = useSession();
  const path = { params: { path: { id: team.id } } };
  const members = useLoad(() => unwrap(api.GET("/api/teams/{id}/members", path)) as Promise<TeamMember[]>);
  const people = useLoad(async () => ((await unwrap(api.GET("/api/auth/organization/list-members"))) as { members: Member[] }).members);
  const groups = useLoad(
    () => (features.enterprise ? (unwrap(api.GET("/api/teams/{id}/external-groups", path)) as Promise<ExternalGroup[]>) : Promise.resolve([])),
    [features.enterprise],
  );
  const person = (userId: string) => people.data?.find((m) => m.userId === userId)?.user;
  const candidates = (people.data ?? []).filter((m) => !members.data?.some((t) => t.userId === m.userId));
  const [userId, setUserId] = useState("");
  const add = useSubmit(async () => {
    await unwrap(api.POST("/api/teams/{id}/members", { ...path, body: { userId: userId || candidates[0]?.userId } as never }));
    setUserId("");
    members.reload();
  });
  const [group, setGroup] = useState("");
  const addGroup = useSubmit(async () => {
    await unwrap(api.POST("/api/teams/{id}/external-groups", { ...path, body: { groupIdentifier: group } as never }));
    setGroup("");
    groups.reload();
  });
  const groupErrors = fieldErrors(addGroup.error, ["groupIdentifier"]);
  return (
    <Modal title={`Team ${team.name}`} open onClose={onClose} wide>
      <section aria-label="Team members">
        <h3>Members</h3>
        <DataTable
          label="Team members"
          rows={members.data}
          loading={members.loading}
          error={members.error}
          onRetry={members.reload}
          rowKey={(m) => m.id}
          pageSize={5}
          emptyTitle="No members in this team"
          columns={[
            { key: "name", label: "Name", value: (m) => person(m.userId)?.name ?? m.userId },
            { key: "email", label: "Email", value: (m) => person(m.userId)?.email ?? "—" },
            { key: "source", label: "Added", value: (m) => (m.syncedFromSso ? "by SSO group" : "by hand") },
            deleteColumn<TeamMember>((m) => ({
              label: "Remove",
              title: `Remove ${person(m.userId)?.email ?? m.userId} from ${team.name}?`,
              message: "They lose the team's profiles unless another team gives them.",
              remove: () => unwrap(api.DELETE("/api/teams/{id}/members/{userId}", { params: { path: { id: team.id, userId: m.userId } } })),
              done: members.reload,
            })),
          ]}
        />
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            add.submit();
          }}
        >
          <Field label="Organization member">
            <select class="input" value={userId || candidates[0]?.userId || ""} onChange={(e) => setUserId(e.currentTarget.value)}>
              {candidates.map((m) => (
                <option value={m.userId}>{m.user?.email ?? m.userId}</option>
              ))}
            </select>
          </Field>
          <button type="submit" class="btn btn-primary" disabled={add.busy || candidates.length === 0}>
            Add to team
          </button>
        </form>
        {add.error && <ErrorBox error={add.error} />}
      </section>
      {features.enterprise && (
        <section aria-label="External groups">
          <h3>Identity provider groups</h3>
          <p class="muted">Users signing in with SSO who are in one of these groups join this team.</p>
          <DataTable
            label="External groups"
            rows={groups.data}
            loading={groups.loading}
            error={groups.error}
            onRetry={groups.reload}
            rowKey={(g) => g.id}
            pageSize={5}
            emptyTitle="No groups linked"
            columns={[
              { key: "groupIdentifier", label: "Group" },
              deleteColumn<ExternalGroup>((g) => ({
                label: "Unlink",
                title: `Unlink group ${g.groupIdentifier}?`,
                message: "Its users are no longer added to this team at sign-in.",
                remove: () => unwrap(api.DELETE("/api/teams/{id}/external-groups/{groupId}", { params: { path: { id: team.id, groupId: g.id } } })),
                done: groups.reload,
              })),
            ]}
          />
          <form
            class="inline-form"
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              addGroup.submit();
            }}
          >
            <Field label="Group" error={groupErrors.on("groupIdentifier")}>
              <input class="input" value={group} onInput={(e) => setGroup(e.currentTarget.value)} />
            </Field>
            <button type="submit" class="btn btn-primary" disabled={addGroup.busy}>
              Link group
            </button>
          </form>
          {groupErrors.rest && <ErrorBox error={groupErrors.rest} />}
        </section>
      )}
    </Modal>
  );
}

// ---- Secrets, Dual LLM, SSO -------------------------------------------------------------------------------------

function SecretsSettings() {
  const type = useLoad(() => raw<{ type: string; meta: Record<string, unknown> }>("GET", "/api/secrets/type"));
  const [result, setResult] = useState<string>();
  const check = useSubmit(async () => {
    const r = await raw<{ secretCount: number }>("POST", "/api/secrets/check-connectivity");
    setResult(`Connected: ${r.secretCount} secret${r.secretCount === 1 ? "" : "s"} readable.`);
  });
  return (
    <section class="card" aria-label="Secrets backend">
      <h2>Secrets backend</h2>
      {type.error ? (
        <ErrorBox error={type.error} onRetry={type.reload} />
      ) : !type.data ? (
        <Spinner />
      ) : (
        <>
          <p>
            Secrets are stored in <strong data-testid="secrets-type">{type.data.type === "DB" ? "the database" : type.data.type}</strong>.
          </p>
          {Object.keys(type.data.meta ?? {}).length > 0 && <pre>{JSON.stringify(type.data.meta, null, 2)}</pre>}
          <button type="button" class="btn" disabled={check.busy} onClick={() => check.submit()}>
            {check.busy ? "Checking…" : "Check connectivity"}
          </button>
          {result && (
            <p class="ok" role="status">
              {result}
            </p>
          )}
          {check.error && <ErrorBox error={check.error} />}
        </>
      )}
    </section>
  );
}

interface DualLlmConfig {
  id: string;
  enabled: boolean;
  mainAgentPrompt: string;
  quarantinedAgentPrompt: string;
  summaryPrompt: string;
  maxRounds: number;
}

function DualLlmSettings() {
  const config = useLoad(() => raw<DualLlmConfig>("GET", "/api/dual-llm-config/default"));
  if (config.error) return <ErrorBox error={config.error} onRetry={config.reload} />;
  if (!config.data) return <Spinner />;
  return <DualLlmForm key={config.data.id} initial={config.data} onSaved={config.reload} />;
}

function DualLlmForm({ initial, onSaved }: { initial: DualLlmConfig; onSaved: () => void }) {
  const [c, setC] = useState(initial);
  const [saved, setSaved] = useState(false);
  const save = useSubmit(async () => {
    const { id, ...body } = c;
    await raw("PUT", `/api/dual-llm-config/${id}`, body);
    setSaved(true);
    onSaved();
  });
  return (
    <section class="card" aria-label="Dual LLM">
      <h2>Dual LLM</h2>
      <p class="muted">Results marked “sanitize with Dual LLM” are read by a quarantined model that can only answer the main agent's questions.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(false);
          save.submit();
        }}
      >
        <label class="check">
          <input type="checkbox" checked={c.enabled} onChange={(e) => setC({ ...c, enabled: e.currentTarget.checked })} /> Enabled
        </label>
        <Field label="Maximum rounds">
          <input class="input" type="number" min={1} max={20} value={c.maxRounds} onInput={(e) => setC({ ...c, maxRounds: Number(e.currentTarget.value) })} />
        </Field>
        <Field label="Main agent prompt">
          <textarea class="input" rows={5} value={c.mainAgentPrompt} onInput={(e) => setC({ ...c, mainAgentPrompt: e.currentTarget.value })} />
        </Field>
        <Field label="Quarantined agent prompt">
          <textarea class="input" rows={5} value={c.quarantinedAgentPrompt} onInput={(e) => setC({ ...c, quarantinedAgentPrompt: e.currentTarget.value })} />
        </Field>
        <Field label="Summary prompt">
          <textarea class="input" rows={4} value={c.summaryPrompt} onInput={(e) => setC({ ...c, summaryPrompt: e.currentTarget.value })} />
        </Field>
        {save.error && <ErrorBox error={save.error} />}
        {saved && (
          <p class="ok" role="status">
            Saved.
          </p>
        )}
        <button type="submit" class="btn btn-primary" disabled={save.busy}>
          Save
        </button>
      </form>
    </section>
  );
}

interface SsoProvider {
  id: string;
  providerId: string;
  issuer: string;
  domain: string;
  oidcConfig?: { clientId?: string; clientSecret?: string; scopes?: string[]; tokenEndpointAuthentication?: string } | null;
  samlConfig?: { entryPoint?: string; cert?: string } | null;
  roleMapping?: { rules?: unknown[]; defaultRole?: string } | null;
  teamSyncConfig?: { enabled?: boolean; groupsExpression?: string } | null;
}

function SsoSettings() {
  const providers = useLoad(() => unwrap(api.GET("/api/sso-providers")) as Promise<SsoProvider[]>);
  const roleNames = useLoad(async () => ((await unwrap(api.GET("/api/roles"))) as Role[]).map((r) => r.role));
  const editor = useEditor<SsoProvider>(providers.reload);
  return (
    <section class="card" aria-label="SSO providers">
      <div class="card-header">
        <h2>SSO providers</h2>
        <button type="button" class="btn btn-primary" onClick={() => editor.edit("new")}>
          Add SSO provider
        </button>
      </div>
      <p class="muted">
        Each provider gets a “Sign in with …” button on the sign-in page. Its callback URL is{" "}
        <code>{location.origin}/api/auth/sso/callback/&lt;provider id&gt;</code>.
      </p>
      <DataTable
        label="SSO providers"
        rows={providers.data}
        loading={providers.loading}
        error={providers.error}
        onRetry={providers.reload}
        rowKey={(p) => p.id}
        emptyTitle="No SSO providers"
        emptyBody="Add an OpenID Connect or SAML identity provider."
        columns={[
          { key: "providerId", label: "Provider" },
          { key: "protocol", label: "Protocol", value: (p) => (p.samlConfig ? "SAML" : "OIDC") },
          { key: "issuer", label: "Issuer" },
          { key: "domain", label: "Domain" },
          { key: "defaultRole", label: "Default role", value: (p) => p.roleMapping?.defaultRole ?? "member" },
          actionsColumn<SsoProvider>((p) => (
            <EditDeleteActions
              onEdit={() => editor.edit(p)}
              title={`Delete SSO provider ${p.providerId}?`}
              message="Users can no longer sign in with it."
              remove={() => unwrap(api.DELETE("/api/sso-providers/{id}", { params: { path: { id: p.id } } }))}
              done={providers.reload}
            />
          )),
        ]}
      />
      {editor.editing && (
        <SsoProviderDialog
          provider={editor.item}
          roles={roleNames.data ?? roles}
          onClose={editor.close}
          onSaved={editor.saved}
        />
      )}
    </section>
  );
}

function SsoProviderDialog({ provider, roles: roleChoices, onClose, onSaved }: { provider?: SsoProvider; roles: string[]; onClose: () => void; onSaved: () => void }) {
  const [f, setF] = useState({
    providerId: provider?.providerId ?? "",
    issuer: provider?.issuer ?? "",
    domain: provider?.domain ?? "",
    protocol: provider?.samlConfig ? "saml" : "oidc",
    clientId: provider?.oidcConfig?.clientId ?? "",
    clientSecret: provider?.oidcConfig?.clientSecret ?? "",
    scopes: (provider?.oidcConfig?.scopes ?? ["openid", "email", "profile"]).join(" "),
    tokenAuth: provider?.oidcConfig?.tokenEndpointAuthentication ?? "client_secret_basic",
    entryPoint: provider?.samlConfig?.entryPoint ?? "",
    cert: provider?.samlConfig?.cert ?? "",
    defaultRole: provider?.roleMapping?.defaultRole ?? "member",
    teamSync: provider?.teamSyncConfig?.enabled ?? false,
  });
  const set = (patch: Partial<typeof f>) => setF({ ...f, ...patch });
  const save = useSubmit(async () => {
    const body = {
      providerId: f.providerId,
      issuer: f.issuer,
      domain: f.domain,
      ...(f.protocol === "oidc"
        ? {
            oidcConfig: {
              ...(provider?.oidcConfig ?? {}),
              clientId: f.clientId,
              clientSecret: f.clientSecret,
              scopes: f.scopes.split(/\s+/).filter(Boolean),
              tokenEndpointAuthentication: f.tokenAuth,
            },
          }
        : { samlConfig: { ...(provider?.samlConfig ?? {}), entryPoint: f.entryPoint, cert: f.cert } }),
      // Keeps any rules set through the API; the dialog edits the role given when no rule matches.
      roleMapping: { ...(provider?.roleMapping ?? {}), rules: provider?.roleMapping?.rules ?? [], defaultRole: f.defaultRole },
      teamSyncConfig: { ...(provider?.teamSyncConfig ?? {}), enabled: f.teamSync },
    };
    if (provider) await unwrap(api.PUT("/api/sso-providers/{id}", { params: { path: { id: provider.id } }, body: body as never }));
    else await unwrap(api.POST("/api/sso-providers", { body: body as never }));
    onSaved();
  });
  const errors = fieldErrors(save.error, [
    "providerId",
    "issuer",
    "domain",
    "oidcConfig",
    "oidcConfig.clientId",
    "oidcConfig.clientSecret",
    "oidcConfig.tokenEndpointAuthentication",
    "samlConfig",
    "samlConfig.entryPoint",
    "samlConfig.cert",
  ]);
  return (
    <FormDialog
      title={provider ? `Edit SSO provider ${provider.providerId}` : "Add SSO provider"}
      open
      wide
      onClose={onClose}
      onSubmit={() => save.submit()}
      busy={save.busy}
      error={errors.rest}
      submitLabel={provider ? "Save" : "Add"}
    >
      <Field label="Provider ID" hint="Shown on the sign-in button and part of the callback URL" error={errors.on("providerId")}>
        <input class="input" value={f.providerId} onInput={(e) => set({ providerId: e.currentTarget.value })} />
      </Field>
      <Field label="Issuer" hint="The identity provider's URL (OIDC discovery is read from it)" error={errors.on("issuer")}>
        <input class="input" value={f.issuer} onInput={(e) => set({ issuer: e.currentTarget.value })} />
      </Field>
      <Field label="Domain" hint="Email domain of its users, e.g. example.com" error={errors.on("domain")}>
        <input class="input" value={f.domain} onInput={(e) => set({ domain: e.currentTarget.value })} />
      </Field>
      <Field label="Protocol">
        <select class="input" value={f.protocol} onChange={(e) => set({ protocol: e.currentTarget.value })}>
          <option value="oidc">OpenID Connect</option>
          <option value="saml">SAML 2.0</option>
        </select>
      </Field>
      {f.protocol === "oidc" ? (
        <>
          <Field label="Client ID" error={errors.on("oidcConfig.clientId") ?? errors.on("oidcConfig")}>
            <input class="input" value={f.clientId} onInput={(e) => set({ clientId: e.currentTarget.value })} />
          </Field>
          <Field label="Client secret" error={errors.on("oidcConfig.clientSecret")}>
            <input class="input" type="password" autoComplete="off" value={f.clientSecret} onInput={(e) => set({ clientSecret: e.currentTarget.value })} />
          </Field>
          <Field label="Scopes" hint="Space-separated">
            <input class="input" value={f.scopes} onInput={(e) => set({ scopes: e.currentTarget.value })} />
          </Field>
          <Field label="Token endpoint authentication" error={errors.on("oidcConfig.tokenEndpointAuthentication")}>
            <select class="input" value={f.tokenAuth} onChange={(e) => set({ tokenAuth: e.currentTarget.value })}>
              <option value="client_secret_basic">client_secret_basic</option>
              <option value="client_secret_post">client_secret_post</option>
            </select>
          </Field>
        </>
      ) : (
        <>
          <Field label="Single sign-on URL" error={errors.on("samlConfig.entryPoint") ?? errors.on("samlConfig")}>
            <input class="input" value={f.entryPoint} onInput={(e) => set({ entryPoint: e.currentTarget.value })} />
          </Field>
          <Field label="Signing certificate" hint="PEM or base64" error={errors.on("samlConfig.cert")}>
            <textarea class="input" rows={4} value={f.cert} onInput={(e) => set({ cert: e.currentTarget.value })} />
          </Field>
        </>
      )}
      <Field label="Default role" hint="Given to users no role-mapping rule matches">
        <select class="input" value={f.defaultRole} onChange={(e) => set({ defaultRole: e.currentTarget.value })}>
          {[...new Set([...roleChoices, f.defaultRole])].map((r) => (
            <option value={r}>{r}</option>
          ))}
        </select>
      </Field>
      <label class="check">
        <input type="checkbox" checked={f.teamSync} onChange={(e) => set({ teamSync: e.currentTarget.checked })} /> Sync team membership from the provider's groups
      </label>
    </FormDialog>
  );
}

// ---- Roles (enterprise) -----------------------------------------------------------------------------------------

interface Role {
  id: string;
  role: string;
  name: string;
  permission: Record<string, string[]>;
  predefined: boolean;
}

const permissionCount = (r: Role) => Object.values(r.permission).reduce((n, actions) => n + actions.length, 0);

function RolesSettings() {
  const roles = useLoad(() => unwrap(api.GET("/api/roles")) as Promise<Role[]>);
  const editor = useEditor<Role>(roles.reload);
  // The admin role holds every permission there is: its map is the catalog the editor offers.
  const catalog = roles.data?.find((r) => r.predefined && r.role === "admin")?.permission;
  return (
    <section class="card" aria-label="Roles">
      <div class="card-header">
        <h2>Roles</h2>
        <button type="button" class="btn btn-primary" disabled={!catalog} onClick={() => editor.edit("new")}>
          Create role
        </button>
      </div>
      <p class="muted">admin, editor and member are built in. A custom role grants exactly the permissions ticked; you can only grant what you hold.</p>
      <DataTable
        label="Roles"
        rows={roles.data}
        loading={roles.loading}
        error={roles.error}
        onRetry={roles.reload}
        rowKey={(r) => r.id}
        emptyTitle="No roles"
        columns={[
          { key: "name", label: "Name" },
          { key: "role", label: "Identifier", render: (r) => <code>{r.role}</code>, value: (r) => r.role },
          { key: "predefined", label: "Kind", value: (r) => (r.predefined ? "built in" : "custom"), render: (r) => <Badge tone={r.predefined ? "neutral" : "good"}>{r.predefined ? "built in" : "custom"}</Badge> },
          { key: "permissions", label: "Permissions", value: permissionCount },
          actionsColumn<Role>((r) =>
            r.predefined ? (
              <span class="muted">—</span>
            ) : (
              <EditDeleteActions
                onEdit={() => editor.edit(r)}
                title={`Delete role ${r.name}?`}
                message="Only a role no member holds can be deleted."
                remove={() => unwrap(api.DELETE("/api/roles/{roleId}", { params: { path: { roleId: r.id } } }))}
                done={roles.reload}
              />
            ),
          ),
        ]}
      />
      {editor.editing && catalog && (
        <RoleDialog
          role={editor.item}
          catalog={catalog}
          onClose={editor.close}
          onSaved={editor.saved}
        />
      )}
    </section>
  );
}

function RoleDialog({ role, catalog, onClose, onSaved }: { role?: Role; catalog: Record<string, string[]>; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(role?.name ?? "");
  const [granted, setGranted] = useState<Record<string, string[]>>(role?.permission ?? {});
  const save = useSubmit(async () => {
    const permission = Object.fromEntries(Object.entries(granted).filter(([, actions]) => actions.length > 0));
    if (role) await unwrap(api.PUT("/api/roles/{roleId}", { params: { path: { roleId: role.id } }, body: { name, permission } as never }));
    else await unwrap(api.POST("/api/roles", { body: { name, permission } as never }));
    onSaved();
  });
  const errors = fieldErrors(save.error, ["name", "permission"]);
  const toggle = (resource: string, action: string, on: boolean) => {
    const current = new Set(granted[resource] ?? []);
    if (on) current.add(action);
    else current.delete(action);
    setGranted({ ...granted, [resource]: catalog[resource].filter((a) => current.has(a)) });
  };
  return (
    <FormDialog
      title={role ? `Edit role ${role.name}` : "Create role"}
      open
      wide
      onClose={onClose}
      onSubmit={() => save.submit()}
      busy={save.busy}
      error={errors.rest}
      submitLabel={role ? "Save" : "Create"}
    >
      <Field label="Role name" hint="The identifier is derived from it: lower case letters, digits and _" error={errors.on("name")}>
        <input class="input" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <fieldset class="fieldset" aria-label="Permissions">
        <legend>Permissions</legend>
        <table class="perm-grid">
          <tbody>
            {Object.entries(catalog).map(([resource, actions]) => (
              <tr>
                <th scope="row">{resource}</th>
                <td>
                  {actions.map((action) => (
                    <label class="check inline">
                      <input
                        type="checkbox"
                        aria-label={`${resource}:${action}`}
                        checked={(granted[resource] ?? []).includes(action)}
                        onChange={(e) => toggle(resource, action, e.currentTarget.checked)}
                      />{" "}
                      {action}{" "}
                    </label>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {errors.on("permission") && (
          <span class="field-error" role="alert">
            {errors.on("permission")}
          </span>
        )}
      </fieldset>
    </FormDialog>
  );
}

// ---- Chat ---------------------------------------------------------------------------------------------------

type KeySource = "settings" | "environment" | null;

interface ChatSettingsData {
  anthropicApiKeySource: KeySource;
  openAiApiKeySource: KeySource;
  geminiApiKeySource: KeySource;
  updatedAt: string;
}

/// One provider's key in the chat settings: the request fields that set and remove it, the environment variable
/// that supplies it when none is stored.
interface ChatKey {
  provider: string;
  testId: string;
  field: "anthropicApiKey" | "openAiApiKey" | "geminiApiKey";
  source: (s: ChatSettingsData) => KeySource;
  resetField: string;
  env: string;
}

const CHAT_KEYS: ChatKey[] = [
  { provider: "Anthropic", testId: "chat-key-status", field: "anthropicApiKey", source: (s) => s.anthropicApiKeySource, resetField: "resetApiKey", env: "ARCHESTRA_CHAT_ANTHROPIC_API_KEY" },
  { provider: "OpenAI", testId: "chat-key-status-openai", field: "openAiApiKey", source: (s) => s.openAiApiKeySource, resetField: "resetOpenAiApiKey", env: "ARCHESTRA_CHAT_OPENAI_API_KEY" },
  { provider: "Gemini", testId: "chat-key-status-gemini", field: "geminiApiKey", source: (s) => s.geminiApiKeySource, resetField: "resetGeminiApiKey", env: "ARCHESTRA_CHAT_GEMINI_API_KEY" },
];

function ChatSettings() {
  const settings = useLoad(() => raw<ChatSettingsData>("GET", "/api/chat-settings"));
  if (settings.loading && !settings.data) return <Spinner />;
  if (settings.error) return <ErrorBox error={settings.error} onRetry={settings.reload} />;
  return (
    <section class="card form-narrow" aria-label="Chat settings">
      <h2>Chat provider keys</h2>
      <p class="muted">
        The chat calls the model through this platform's LLM proxy with the key of the model's provider. A key saved here is kept in the secrets
        backend, never shown again, and takes precedence over the environment's.
      </p>
      {CHAT_KEYS.map((key) => (
        <ChatKeyForm key={key.field} chatKey={key} source={key.source(settings.data!)} onSaved={settings.reload} />
      ))}
    </section>
  );
}

function ChatKeyForm({ chatKey, source, onSaved }: { chatKey: ChatKey; source: KeySource; onSaved: () => void }) {
  const [value, setValue] = useState("");
  const [saved, setSaved] = useState<string>();
  const { busy, error, submit } = useSubmit(async (body: Record<string, unknown>, message: string) => {
    await raw("PATCH", "/api/chat-settings", body);
    setValue("");
    setSaved(message);
    onSaved();
  });
  const errors = fieldErrors(error, [chatKey.field]);
  return (
    <form
      noValidate
      aria-label={`${chatKey.provider} key`}
      onSubmit={(e) => {
        e.preventDefault();
        setSaved(undefined);
        submit({ [chatKey.field]: value }, `${chatKey.provider} key saved`);
      }}
    >
      <p data-testid={chatKey.testId}>
        {chatKey.provider} key:{" "}
        {source === "settings" ? (
          <Badge tone="good">set here</Badge>
        ) : source === "environment" ? (
          <Badge tone="good">from {chatKey.env}</Badge>
        ) : (
          <Badge tone="warn">not set</Badge>
        )}
      </p>
      <Field label={`${chatKey.provider} API key`} error={errors.on(chatKey.field)}>
        <input class="input" type="password" autocomplete="off" value={value} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} />
      </Field>
      {errors.rest && <ErrorBox error={errors.rest} />}
      <div class="form-actions">
        {source === "settings" && (
          <button
            type="button"
            class="btn btn-danger"
            disabled={busy}
            onClick={() => {
              setSaved(undefined);
              submit({ [chatKey.resetField]: true }, `${chatKey.provider} key removed`);
            }}
          >
            Reset {chatKey.provider} key
          </button>
        )}
        <button type="submit" class="btn btn-primary" disabled={busy || !value}>
          Save {chatKey.provider} key
        </button>
      </div>
      {saved && (
        <p class="ok" role="status">
          {saved}
        </p>
      )}
    </form>
  );
}
