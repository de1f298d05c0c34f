// The Worker's modules import `cloudflare:*`, which only workerd has; building the API document in
// Node needs just their names (scripts/openapi.ts), so each resolves to a stand-in class.
export async function resolve(specifier, context, next) {
	if (specifier.startsWith("cloudflare:"))
		return {
			url: `data:text/javascript,${encodeURIComponent(STUB)}`,
			shortCircuit: true,
		};
	return next(specifier, context);
}
const STUB =
	"export class DurableObject {} export class EmailMessage {} export class WorkerEntrypoint {} export const env = {};";
