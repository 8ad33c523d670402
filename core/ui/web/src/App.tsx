// The application: session bootstrap, the sign-in gate and the page for the current path.
import { useEffect, useState } from "preact/hooks";
import { api, onUnauthenticated, unwrap } from "./api/client";
import { Layout } from "./components/Layout";
import { Spinner } from "./components/ui";
import { navigate, useLocation } from "./lib/router";
import { type Features, SessionContext, type SessionUser } from "./lib/session";
import { SignInPage, SignUpWithInvitationPage } from "./pages/Auth";
import { ChatPage } from "./pages/Chat";
import { CostsPage } from "./pages/Costs";
import { InstallationRequestsPage } from "./pages/InstallationRequests";
import { LogDetailPage, LogsPage } from "./pages/Logs";
import { McpRegistryPage, OAuthCallbackPage } from "./pages/McpRegistry";
import { ProfilesPage } from "./pages/Profiles";
import { PromptsPage } from "./pages/Prompts";
import { SettingsPage } from "./pages/Settings";
import { ToolsPage } from "./pages/Tools";

const publicPaths = ["/auth/sign-in", "/auth/sign-up-with-invitation"];

export function App() {
  const { path } = useLocation();
  const [user, setUser] = useState<SessionUser | null | undefined>(undefined);
  const [features, setFeatures] = useState<Features>({});

  const refresh = async () => {
    try {
      const session = await unwrap(api.GET("/api/auth/get-session"));
      setUser((session as { user?: SessionUser } | null)?.user ?? null);
    } catch {
      setUser(null);
    }
  };
  const signOut = async () => {
    await unwrap(api.POST("/api/auth/sign-out", {}));
    setUser(null);
    navigate("/auth/sign-in");
  };

  useEffect(() => {
    refresh();
    unwrap(api.GET("/api/features")).then((f) => setFeatures(f as Features), () => {});
    return onUnauthenticated(() => setUser(null));
  }, []);

  useEffect(() => {
    if (user === null && !publicPaths.includes(path)) {
      const next = path === "/" ? "" : `?next=${encodeURIComponent(path + location.search)}`;
      navigate(`/auth/sign-in${next}`, true);
    }
    if (user && path === "/auth/sign-in") navigate("/profiles", true);
    if (user && path === "/") navigate("/chat", true);
  }, [user, path]);

  const ctx = { user: user ?? null, features, refresh, signOut };
  let page;
  if (user === undefined) page = <Spinner label="Loading Archestra…" />;
  else if (path === "/auth/sign-up-with-invitation") page = <SignUpWithInvitationPage />;
  else if (!user) page = <SignInPage />;
  else page = <Layout>{route(path)}</Layout>;
  return <SessionContext.Provider value={ctx}>{page}</SessionContext.Provider>;
}

function route(path: string) {
  if (path === "/chat" || path.startsWith("/chat/")) return <ChatPage />;
  if (path.startsWith("/mcp-catalog/installation-requests")) return <InstallationRequestsPage />;
  if (path.startsWith("/profiles")) return <ProfilesPage />;
  if (path.startsWith("/tools")) return <ToolsPage />;
  if (path.startsWith("/mcp-catalog")) return <McpRegistryPage />;
  if (path === "/oauth-callback") return <OAuthCallbackPage />;
  if (path === "/logs" || path === "/logs/llm-proxy" || path === "/logs/mcp-gateway") return <LogsPage />;
  if (path.startsWith("/logs/")) return <LogDetailPage id={path.slice("/logs/".length)} />;
  if (path.startsWith("/cost")) return <CostsPage />;
  if (path.startsWith("/prompts")) return <PromptsPage />;
  if (path.startsWith("/settings")) return <SettingsPage />;
  return (
    <div class="state state-empty">
      <strong>Page not found</strong>
      <a href="/profiles">Go to Profiles</a>
    </div>
  );
}
