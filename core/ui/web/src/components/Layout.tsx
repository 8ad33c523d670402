// Page frame: navigation (a sidebar at 1280 px, a collapsible menu on a narrow window), the signed-in user,
// sign out, and the default-password banner.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, unwrap } from "../api/client";
import { linkHandler, useLocation } from "../lib/router";
import { useSession } from "../lib/session";

const nav = [
  { to: "/chat", label: "Chat" },
  { to: "/profiles", label: "Profiles" },
  { to: "/tools", label: "Tools" },
  { to: "/mcp-catalog/registry", label: "MCP Registry" },
  { to: "/logs/llm-proxy", label: "Logs" },
  { to: "/cost/statistics", label: "Costs" },
  { to: "/prompts", label: "Prompts" },
  { to: "/settings/account", label: "Settings" },
];

export function Layout({ children }: { children: ComponentChildren }) {
  const { path } = useLocation();
  const { user, signOut } = useSession();
  const [menuOpen, setMenuOpen] = useState(false);
  const [defaultPassword, setDefaultPassword] = useState(false);
  useEffect(() => {
    unwrap(api.GET("/api/auth/default-credentials-status")).then(
      (s) => setDefaultPassword(!!(s as { enabled?: boolean }).enabled),
      () => {},
    );
  }, [path]);
  useEffect(() => setMenuOpen(false), [path]);
  const section = "/" + path.split("/")[1];
  return (
    <div class="shell">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <aside class={menuOpen ? "sidebar open" : "sidebar"}>
        <div class="brand">
          <span class="brand-mark" aria-hidden="true">
            ◆
          </span>
          Archestra
          <button
            type="button"
            class="btn btn-ghost menu-toggle"
            aria-expanded={menuOpen}
            aria-controls="main-nav"
            onClick={() => setMenuOpen(!menuOpen)}
          >
            Menu
          </button>
        </div>
        <nav id="main-nav" aria-label="Main">
          <ul>
            {nav.map((item) => {
              const active = section === "/" + item.to.split("/")[1];
              return (
                <li>
                  <a href={item.to} class={active ? "nav-link active" : "nav-link"} aria-current={active ? "page" : undefined} onClick={linkHandler(item.to)}>
                    {item.label}
                  </a>
                </li>
              );
            })}
          </ul>
        </nav>
        <div class="sidebar-user">
          <div class="user-name" title={user?.email}>
            {user?.name || user?.email}
          </div>
          <div class="muted small">{user?.email}</div>
          <button type="button" class="btn btn-small" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </aside>
      <main id="main" tabIndex={-1}>
        {defaultPassword && (
          <div class="banner banner-warn" role="alert">
            The admin account still uses the default password.{" "}
            <a href="/settings/account" onClick={linkHandler("/settings/account")}>
              Change it now
            </a>
            .
          </div>
        )}
        {children}
      </main>
    </div>
  );
}
