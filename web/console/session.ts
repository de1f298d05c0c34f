import { AgentClient } from "../../client/index.ts";
import { endSession, SESSION_KEY } from "./sign-out.ts";
import type { Agent } from "../../client/index.ts";
import type { AgentStatus } from "../../src/protocol/agent-frames.ts";

/** The signed-in agent, kept for the tab's life (sessionStorage): a reload does not sign it out. */

export interface Session {
	baseUrl: string;
	siteId: string;
	token: string;
	agent: Agent;
	status: AgentStatus;
}

const KEY = SESSION_KEY;

export function loadSession(): Session | undefined {
	try {
		const session = JSON.parse(
			sessionStorage.getItem(KEY) ?? "null"
		) as Session | null;
		// An expired token would only be refused: ask for the password again instead.
		const exp =
			session &&
			(
				JSON.parse(
					atob(
						session.token.split(".")[1]!.replace(/-/g, "+").replace(/_/g, "/")
					)
				) as { exp?: number }
			).exp;
		return session && (!exp || exp * 1000 > Date.now() + 60_000)
			? session
			: undefined;
	} catch {
		return undefined;
	}
}

export function saveSession(session: Session | undefined): void {
	try {
		if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
		else sessionStorage.removeItem(KEY);
	} catch {
		// Storage disabled: the session lasts until the page is left.
	}
}

export async function signIn(
	siteId: string,
	email: string,
	password: string
): Promise<Session> {
	const baseUrl = location.origin;
	const client = await AgentClient.login({
		siteId,
		email,
		password,
		baseUrls: [baseUrl],
		attempts: 1,
	});
	const session: Session = {
		baseUrl,
		siteId,
		token: client.token,
		agent: client.agent,
		status: "online",
	};
	saveSession(session);
	return session;
}

/** Signing out (SPEC §7), with this browser's storages: sign-out.ts. */
export const signOut = (client: AgentClient) =>
	endSession(client, { local: localStorage, session: sessionStorage });
