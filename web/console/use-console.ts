import { useEffect, useReducer } from "preact/hooks";
import type { ConsoleState } from "./state.ts";

/** Re-renders the component whenever the console's state changes. */
export function useConsole(state: ConsoleState): ConsoleState {
	const [, bump] = useReducer((n: number) => n + 1, 0);
	useEffect(() => state.subscribe(() => bump(undefined)), [state]);
	return state;
}

/** "3 min", "1 h 5 min": how long ago `since` was, for waiting times. */
export function elapsed(since: number, now = Date.now()): string {
	const minutes = Math.max(0, Math.floor((now - since) / 60_000));
	if (minutes < 1) return `${Math.max(0, Math.floor((now - since) / 1000))} s`;
	return minutes < 60
		? `${minutes} min`
		: `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export const clock = (time: number) =>
	new Date(time).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
