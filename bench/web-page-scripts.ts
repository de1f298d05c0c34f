/** Code the browser figures (web-figures.ts) run inside the page. */

/**
 * In the page, from the start of its navigation (performance.now() counts from it) to the first
 * frame where a button named like the launcher is laid out, looked for through open shadow roots.
 * In-page code is plain text: tsx would wrap named functions in a helper the page does not have.
 */
export const LAUNCHER_WATCH = `
window.launcherShownAt = new Promise((resolve) => {
	function visibleLauncher(root) {
		for (const el of root.querySelectorAll("*")) {
			if (el.shadowRoot && visibleLauncher(el.shadowRoot)) return true;
			const isButton = el.tagName === "BUTTON" || el.getAttribute("role") === "button";
			if (isButton && /chat/i.test((el.getAttribute("aria-label") || "") + " " + el.textContent)) {
				const box = el.getBoundingClientRect();
				if (box.width > 0 && box.height > 0) return true;
			}
		}
		return false;
	}
	function tick() {
		if (document.body && visibleLauncher(document)) resolve(performance.now());
		else requestAnimationFrame(tick);
	}
	requestAnimationFrame(tick);
});`;

/** When `text` is in the frame's document or any of its open shadow roots: the epoch time in ms, high resolution. */
export const WAIT_FOR_TEXT = `(text) => new Promise((resolve) => {
	function roots() {
		const found = [document.body];
		for (let i = 0; i < found.length; i++) for (const el of found[i].querySelectorAll("*")) if (el.shadowRoot) found.push(el.shadowRoot);
		return found;
	}
	const observers = [];
	function check() {
		if (!roots().some((r) => r.textContent.includes(text))) return false;
		const at = performance.timeOrigin + performance.now();
		for (const o of observers) o.disconnect();
		resolve(at);
		return true;
	}
	if (check()) return;
	for (const r of roots()) {
		const observer = new MutationObserver(check);
		observer.observe(r, { childList: true, subtree: true, characterData: true });
		observers.push(observer);
	}
})`;
