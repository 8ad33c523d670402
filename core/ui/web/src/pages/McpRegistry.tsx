// MCP registry: private catalog CRUD, install (prompting for required environment values and secrets),
// installed servers with status, tools, logs (following live), restart and uninstall. A remote server with an
// oauthConfig installs through OAuth: Install sends the browser to its authorization server, and the
// /oauth-callback page (OAuthCallbackPage) finishes the installation when the browser comes back. Such an
// installation has a Re-authorize button: the same flow with its serverId, which moves it to new tokens.
import { useEffect, useRef, useState } from "preact/hooks";
import { raw } from "../api/client";
import { DataTable, DeleteButton } from "../components/DataTable";
import { Badge, ConfirmButton, ErrorBox, Field, Modal, PageHeader, Spinner, useSubmit } from "../components/ui";
import { formatTime, useLoad } from "../lib/hooks";
import { RegistryTabs } from "./InstallationRequests";

interface EnvVar {
  key: string;
  type: "plain_text" | "secret" | "boolean" | "number";
  value?: string;
  promptOnInstallation: boolean;
  required?: boolean;
  description?: string;
}
interface CatalogItem {
  id: string;
  name: string;
  description: string | null;
  serverType: "local" | "remote";
  serverUrl: string | null;
  docsUrl?: string | null;
  localConfig: { command?: string; arguments?: string[]; environment?: EnvVar[]; dockerImage?: string } | null;
  oauthConfig?: { client_id?: string; scopes?: string[] } | null;
  createdAt: string;
}
interface McpServer {
  id: string;
  name: string;
  catalogId: string;
  serverType: string;
  localInstallationStatus: string;
  localInstallationError: string | null;
  catalogName?: string;
  createdAt: string;
}
interface McpTool {
  id: string;
  name: string;
  description: string | null;
  assignedAgentCount?: number;
}

const statusTone = (s: string) => (s === "success" ? "good" : s === "error" ? "bad" : "warn");

export function McpRegistryPage() {
  const catalog = useLoad(() => raw<CatalogItem[]>("GET", "/api/internal_mcp_catalog"));
  const servers = useLoad(() => raw<McpServer[]>("GET", "/api/mcp_server"));
  const [editing, setEditing] = useState<CatalogItem | "new">();
  const [installing, setInstalling] = useState<CatalogItem>();
  const [open, setOpen] = useState<McpServer>();
  const [reauthError, setReauthError] = useState<string>();
  // Re-authorize an installed OAuth server: a new flow with its serverId; the callback page moves the
  // installation to the new tokens (the old ones are revoked).
  const reauthorize = async (s: McpServer) => {
    setReauthError(undefined);
    try {
      const started = await raw<{ authorizationUrl: string; state: string }>("POST", "/api/oauth/initiate", { catalogId: s.catalogId, serverId: s.id });
      sessionStorage.setItem(oauthPendingKey(started.state), JSON.stringify({ catalogId: s.catalogId, name: s.name, serverId: s.id }));
      window.location.assign(started.authorizationUrl);
    } catch (error) {
      setReauthError(`Re-authorizing ${s.name} failed: ${(error as Error).message}`);
    }
  };
  // Installations move through pending/discovering-tools: poll while one is in progress.
  useEffect(() => {
    const busy = servers.data?.some((s) => ["pending", "discovering-tools"].includes(s.localInstallationStatus));
    if (!busy) return;
    const t = setTimeout(servers.reload, 1500);
    return () => clearTimeout(t);
  }, [servers.data]);
  return (
    <>
      <PageHeader
        title="MCP Registry"
        description="Your organization's private catalog of MCP servers, and the servers installed from it."
        actions={
          <button type="button" class="btn btn-primary" onClick={() => setEditing("new")}>
            Add to catalog
          </button>
        }
      />
      <RegistryTabs current="registry" />
      <DataTable
        label="Catalog"
        rows={catalog.data}
        loading={catalog.loading}
        error={catalog.error}
        onRetry={catalog.reload}
        rowKey={(c) => c.id}
        emptyTitle="The catalog is empty"
        emptyBody="Add a local (command or Docker image) or remote (URL) MCP server."
        defaultSort={{ key: "name", dir: "asc" }}
        columns={[
          { key: "name", label: "Name", render: (c) => <strong>{c.name}</strong>, value: (c) => c.name },
          { key: "serverType", label: "Type" },
          { key: "description", label: "Description", value: (c) => c.description ?? "—" },
          { key: "installed", label: "Installed", value: (c) => servers.data?.filter((s) => s.catalogId === c.id).length ?? 0 },
          {
            key: "actions",
            label: "Actions",
            sortable: false,
            render: (c) => (
              <div class="row-actions">
                <button type="button" class="btn btn-small btn-primary" onClick={() => setInstalling(c)}>
                  Install
                </button>
                <button type="button" class="btn btn-small" onClick={() => setEditing(c)}>
                  Edit
                </button>
                <DeleteButton
                  title={`Delete ${c.name} from the catalog?`}
                  message="Installed servers keep running until uninstalled."
                  remove={() => raw("DELETE", `/api/internal_mcp_catalog/${c.id}`)}
                  done={catalog.reload}
                />
              </div>
            ),
          },
        ]}
      />
      <h2 class="section-title">Installed servers</h2>
      {reauthError && <ErrorBox error={reauthError} />}
      <DataTable
        label="Installed servers"
        rows={servers.data}
        loading={servers.loading}
        error={servers.error}
        onRetry={servers.reload}
        rowKey={(s) => s.id}
        emptyTitle="No MCP servers installed"
        columns={[
          { key: "name", label: "Name" },
          { key: "catalogName", label: "From", value: (s) => s.catalogName ?? catalog.data?.find((c) => c.id === s.catalogId)?.name ?? "—" },
          {
            key: "localInstallationStatus",
            label: "Status",
            render: (s) => (
              <span title={s.localInstallationError ?? undefined}>
                <Badge tone={statusTone(s.localInstallationStatus)}>{s.localInstallationStatus}</Badge>
              </span>
            ),
            value: (s) => s.localInstallationStatus,
          },
          { key: "createdAt", label: "Installed", value: (s) => s.createdAt, render: (s) => formatTime(s.createdAt) },
          {
            key: "actions",
            label: "Actions",
            sortable: false,
            render: (s) => (
              <div class="row-actions">
                <button type="button" class="btn btn-small" onClick={() => setOpen(s)}>
                  Details
                </button>
                {catalog.data?.find((c) => c.id === s.catalogId && c.serverType === "remote" && c.oauthConfig) && (
                  <button type="button" class="btn btn-small" title="Sign in at the server's authorization server again; the installation keeps its id and moves to the new tokens" onClick={() => reauthorize(s)}>
                    Re-authorize
                  </button>
                )}
                <button
                  type="button"
                  class="btn btn-small"
                  onClick={async () => {
                    await raw("POST", `/api/mcp_server/${s.id}/restart`).catch(() => {});
                    servers.reload();
                  }}
                >
                  Restart
                </button>
                <ConfirmButton
                  label="Uninstall"
                  confirmLabel="Uninstall"
                  title={`Uninstall ${s.name}?`}
                  message="Its tools are removed from every profile."
                  onConfirm={async () => {
                    await raw("DELETE", `/api/mcp_server/${s.id}`);
                    servers.reload();
                    if (open?.id === s.id) setOpen(undefined);
                  }}
                />
              </div>
            ),
          },
        ]}
      />
      {open && <ServerDetails server={open} onClose={() => setOpen(undefined)} />}
      <Modal title={editing === "new" ? "Add to catalog" : `Edit ${editing?.name ?? ""}`} open={!!editing} onClose={() => setEditing(undefined)} wide>
        {editing && (
          <CatalogForm
            item={editing === "new" ? undefined : editing}
            onSaved={() => {
              setEditing(undefined);
              catalog.reload();
            }}
          />
        )}
      </Modal>
      <Modal title={`Install ${installing?.name ?? ""}`} open={!!installing} onClose={() => setInstalling(undefined)}>
        {installing && (
          <InstallForm
            item={installing}
            onInstalled={() => {
              setInstalling(undefined);
              servers.reload();
            }}
          />
        )}
      </Modal>
    </>
  );
}

function CatalogForm({ item, onSaved }: { item?: CatalogItem; onSaved: () => void }) {
  const [name, setName] = useState(item?.name ?? "");
  const [description, setDescription] = useState(item?.description ?? "");
  const [serverType, setServerType] = useState<"local" | "remote">(item?.serverType ?? "local");
  const [serverUrl, setServerUrl] = useState(item?.serverUrl ?? "");
  const [command, setCommand] = useState(item?.localConfig?.command ?? "");
  const [args, setArgs] = useState((item?.localConfig?.arguments ?? []).join(" "));
  const [dockerImage, setDockerImage] = useState(item?.localConfig?.dockerImage ?? "");
  const [env, setEnv] = useState<EnvVar[]>(item?.localConfig?.environment ?? []);
  const [useOAuth, setUseOAuth] = useState(!!item?.oauthConfig);
  const [clientId, setClientId] = useState(item?.oauthConfig?.client_id ?? "");
  const [clientSecret, setClientSecret] = useState("");
  const [scopes, setScopes] = useState((item?.oauthConfig?.scopes ?? []).join(" "));
  const { busy, error, submit } = useSubmit(async () => {
    const body: Record<string, unknown> = { name, description: description || null, serverType };
    if (serverType === "remote") {
      body.serverUrl = serverUrl;
      // Endpoints come from the server's metadata; without a client id the platform registers one (RFC 7591).
      body.oauthConfig = useOAuth
        ? {
            name,
            server_url: serverUrl,
            ...(clientId ? { client_id: clientId } : {}),
            ...(clientSecret ? { client_secret: clientSecret } : {}),
            redirect_uris: [`${location.origin}/oauth-callback`],
            scopes: scopes.trim() ? scopes.trim().split(/\s+/) : [],
            default_scopes: [],
            supports_resource_metadata: true,
          }
        : null;
      body.requiresAuth = useOAuth;
    } else
      body.localConfig = {
        ...(command ? { command } : {}),
        ...(args.trim() ? { arguments: args.trim().split(/\s+/) } : {}),
        ...(dockerImage ? { dockerImage } : {}),
        environment: env.filter((e) => e.key.trim()),
      };
    if (item) await raw("PUT", `/api/internal_mcp_catalog/${item.id}`, body);
    else await raw("POST", "/api/internal_mcp_catalog", body);
    onSaved();
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <Field label="Name">
        <input class="input" name="catalogName" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field label="Description">
        <input class="input" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </Field>
      <Field label="Server type">
        <select class="input" value={serverType} onChange={(e) => setServerType(e.currentTarget.value as "local" | "remote")}>
          <option value="local">Local (command or Docker image)</option>
          <option value="remote">Remote (URL)</option>
        </select>
      </Field>
      {serverType === "remote" ? (
        <>
          <Field label="Server URL">
            <input class="input" type="url" required value={serverUrl} onInput={(e) => setServerUrl(e.currentTarget.value)} />
          </Field>
          <label class="check">
            <input type="checkbox" name="useOAuth" checked={useOAuth} onChange={(e) => setUseOAuth(e.currentTarget.checked)} />
            Sign in with OAuth when installing
          </label>
          {useOAuth && (
            <fieldset class="fieldset">
              <legend>OAuth</legend>
              <Field label="Client ID" hint="Leave empty to register a client at the authorization server">
                <input class="input" name="oauthClientId" value={clientId} onInput={(e) => setClientId(e.currentTarget.value)} />
              </Field>
              <Field label="Client secret" hint={item?.oauthConfig ? "Leave empty to keep the stored one" : "Kept in the secrets backend"}>
                <input class="input" type="password" name="oauthClientSecret" value={clientSecret} onInput={(e) => setClientSecret(e.currentTarget.value)} />
              </Field>
              <Field label="Scopes" hint="Separated by spaces; empty: what the server's metadata lists">
                <input class="input" name="oauthScopes" value={scopes} onInput={(e) => setScopes(e.currentTarget.value)} />
              </Field>
            </fieldset>
          )}
        </>
      ) : (
        <>
          <Field label="Command">
            <input class="input" name="command" value={command} onInput={(e) => setCommand(e.currentTarget.value)} />
          </Field>
          <Field label="Arguments" hint="Separated by spaces">
            <input class="input" name="arguments" value={args} onInput={(e) => setArgs(e.currentTarget.value)} />
          </Field>
          <Field label="Docker image">
            <input class="input" value={dockerImage} onInput={(e) => setDockerImage(e.currentTarget.value)} />
          </Field>
          <fieldset class="fieldset">
            <legend>Environment</legend>
            {env.map((v, i) => (
              <div class="label-row">
                <input class="input" aria-label={`Variable ${i + 1} name`} placeholder="NAME" value={v.key} onInput={(e) => setEnv(env.map((x, j) => (j === i ? { ...x, key: e.currentTarget.value } : x)))} />
                <select class="input" aria-label={`Variable ${i + 1} type`} value={v.type} onChange={(e) => setEnv(env.map((x, j) => (j === i ? { ...x, type: e.currentTarget.value as EnvVar["type"] } : x)))}>
                  <option value="plain_text">Text</option>
                  <option value="secret">Secret</option>
                  <option value="number">Number</option>
                  <option value="boolean">Boolean</option>
                </select>
                <input class="input" aria-label={`Variable ${i + 1} value`} placeholder={v.promptOnInstallation ? "asked at install" : "value"} disabled={v.promptOnInstallation} value={v.value ?? ""} onInput={(e) => setEnv(env.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value } : x)))} />
                <label class="check">
                  <input type="checkbox" checked={v.promptOnInstallation} onChange={(e) => setEnv(env.map((x, j) => (j === i ? { ...x, promptOnInstallation: e.currentTarget.checked, required: e.currentTarget.checked } : x)))} />
                  Ask at install
                </label>
                <button type="button" class="btn btn-small" onClick={() => setEnv(env.filter((_, j) => j !== i))}>
                  Remove
                </button>
              </div>
            ))}
            <button type="button" class="btn btn-small" onClick={() => setEnv([...env, { key: "", type: "plain_text", value: "", promptOnInstallation: false }])}>
              Add variable
            </button>
          </fieldset>
        </>
      )}
      {error && <ErrorBox error={error} />}
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {item ? "Save" : "Add"}
        </button>
      </div>
    </form>
  );
}

/// Where the /oauth-callback page finds what to install once the browser is back (keyed by the OAuth state).
export const oauthPendingKey = (state: string) => `archestra.oauth.${state}`;

function OAuthInstall({ item }: { item: CatalogItem }) {
  const { busy, error, submit } = useSubmit(async () => {
    const started = await raw<{ authorizationUrl: string; state: string }>("POST", "/api/oauth/initiate", { catalogId: item.id });
    sessionStorage.setItem(oauthPendingKey(started.state), JSON.stringify({ catalogId: item.id, name: item.name }));
    window.location.assign(started.authorizationUrl);
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <p>This server signs you in with OAuth: you will be sent to its authorization server, then back here to finish the installation.</p>
      {error && <ErrorBox error={error} />}
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? "Redirecting…" : "Continue to sign in"}
        </button>
      </div>
    </form>
  );
}

/// /oauth-callback: the authorization server sent the browser back with code and state. Completes the flow
/// (the platform exchanges the code and keeps the tokens in a secret), then installs the server with that
/// secret, or, for a re-authorization, reports the installation now uses the new tokens.
export function OAuthCallbackPage() {
  const [result, setResult] = useState<{ server?: McpServer; reauthorized?: boolean; name?: string; error?: string }>();
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    const query = new URLSearchParams(location.search);
    const code = query.get("code");
    const state = query.get("state");
    (async () => {
      try {
        if (query.get("error"))
          throw new Error(`The authorization server answered ${query.get("error")}${query.get("error_description") ? `: ${query.get("error_description")}` : ""}`);
        if (!code || !state) throw new Error("The address carries no OAuth code and state.");
        const done = await raw<{ catalogId: string; name: string; secretId: string; serverId?: string }>("POST", "/api/oauth/callback", { code, state });
        const pending = JSON.parse(sessionStorage.getItem(oauthPendingKey(state)) ?? "null") as { name?: string } | null;
        sessionStorage.removeItem(oauthPendingKey(state));
        if (done.serverId) {
          setResult({ reauthorized: true, name: pending?.name ?? done.name });
          return;
        }
        const server = await raw<McpServer>("POST", "/api/mcp_server", { name: pending?.name ?? done.name, catalogId: done.catalogId, secretId: done.secretId });
        setResult({ server });
      } catch (error) {
        setResult({ error: (error as Error).message });
      }
    })();
  }, []);
  return (
    <>
      <PageHeader title="OAuth sign-in" description="Completing the installation of a remote MCP server." />
      {!result && <Spinner label="Completing the sign-in…" />}
      {result?.error && <ErrorBox error={result.error} />}
      {result?.reauthorized && (
        <p role="status">
          Signed in again{result.name ? <> for <strong>{result.name}</strong></> : null}: the installation uses the new tokens.
        </p>
      )}
      {result?.server && (
        <p role="status">
          Installed <strong>{result.server.name}</strong>:{" "}
          <Badge tone={statusTone(result.server.localInstallationStatus)}>{result.server.localInstallationStatus}</Badge>
          {result.server.localInstallationError && <ErrorBox error={result.server.localInstallationError} />}
        </p>
      )}
      {result && (
        <p>
          <a href="/mcp-catalog">Back to the MCP registry</a>
        </p>
      )}
    </>
  );
}

function InstallForm({ item, onInstalled }: { item: CatalogItem; onInstalled: () => void }) {
  if (item.serverType === "remote" && item.oauthConfig) return <OAuthInstall item={item} />;
  const prompted = (item.localConfig?.environment ?? []).filter((e) => e.promptOnInstallation);
  const [values, setValues] = useState<Record<string, string>>({});
  const { busy, error, submit } = useSubmit(async () => {
    await raw("POST", "/api/mcp_server", { name: item.name, catalogId: item.id, environmentValues: values });
    onInstalled();
  });
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      {prompted.length === 0 ? (
        <p>This server needs no values. Install it now?</p>
      ) : (
        prompted.map((v) => (
          <Field label={v.key} hint={v.description}>
            <input
              class="input"
              type={v.type === "secret" ? "password" : v.type === "number" ? "number" : "text"}
              required={v.required}
              value={values[v.key] ?? ""}
              onInput={(e) => setValues({ ...values, [v.key]: e.currentTarget.value })}
            />
          </Field>
        ))
      )}
      {error && <ErrorBox error={error} />}
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? "Installing…" : "Install"}
        </button>
      </div>
    </form>
  );
}

function ServerDetails({ server, onClose }: { server: McpServer; onClose: () => void }) {
  const tools = useLoad(() => raw<McpTool[]>("GET", `/api/mcp_server/${server.id}/tools`), [server.id]);
  const [logs, setLogs] = useState("");
  const [follow, setFollow] = useState(false);
  const [logError, setLogError] = useState<string>();
  const [streaming, setStreaming] = useState(false);
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    setLogError(undefined);
    if (!follow) {
      raw<{ logs: string }>("GET", `/api/mcp_server/${server.id}/logs?lines=200`).then(
        (r) => setLogs(r.logs ?? ""),
        (e: Error) => setLogError(e.message),
      );
      return;
    }
    // follow=true streams text/plain: append chunks as they arrive until the panel closes.
    const abort = new AbortController();
    setLogs("");
    fetch(`/api/mcp_server/${server.id}/logs?lines=200&follow=true`, { signal: abort.signal })
      .then(async (res) => {
        if (!res.ok || !res.body) throw new Error(`Logs answered ${res.status}`);
        setStreaming(true);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          setLogs((l) => (l + decoder.decode(value)).slice(-200000));
        }
      })
      .catch((e: Error) => e.name !== "AbortError" && setLogError(e.message))
      .finally(() => setStreaming(false));
    return () => abort.abort();
  }, [server.id, follow]);
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [logs]);
  return (
    <section class="card" aria-label={`Server ${server.name}`}>
      <div class="card-header">
        <h2>{server.name}</h2>
        <button type="button" class="btn btn-small" onClick={onClose}>
          Close
        </button>
      </div>
      {server.localInstallationError && <ErrorBox error={server.localInstallationError} />}
      <h3>Tools</h3>
      {tools.error ? (
        <ErrorBox error={tools.error} onRetry={tools.reload} />
      ) : !tools.data ? (
        <Spinner />
      ) : tools.data.length === 0 ? (
        <p class="muted">No tools discovered (yet).</p>
      ) : (
        <ul class="tool-list">
          {tools.data.map((t) => (
            <li>
              <code>{t.name}</code> <span class="muted">{t.description}</span>
            </li>
          ))}
        </ul>
      )}
      <div class="card-header">
        <h3>Logs</h3>
        <label class="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> Follow live
        </label>
        {streaming && <Badge tone="good">live</Badge>}
      </div>
      {logError && <ErrorBox error={logError} />}
      <pre class="log-view" ref={pre} tabIndex={0} aria-label="Server logs">
        {logs || "No log output."}
      </pre>
    </section>
  );
}
