// Who is signed in, and the public flags the sign-in page needs (basic auth or invitations disabled).
import { createContext } from "preact";
import { useContext } from "preact/hooks";

export interface SessionUser {
  id: string;
  name: string;
  email: string;
  role?: string | null;
}

export interface Features {
  basicAuthDisabled?: boolean;
  invitationsDisabled?: boolean;
  enterprise?: boolean;
  orchestrator?: string;
}

export interface SessionState {
  user: SessionUser | null;
  features: Features;
  refresh: () => Promise<void>;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionState>({
  user: null,
  features: {},
  refresh: async () => {},
  signOut: async () => {},
});

export const useSession = () => useContext(SessionContext);
