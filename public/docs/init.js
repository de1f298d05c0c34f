// The reference page reads the deployment's own document (GET /v1/openapi.json).
window.SwaggerUIBundle({ url: "/v1/openapi.json", dom_id: "#api" });
