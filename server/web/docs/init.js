// Swagger UI for /docs. A file, not an inline script, so the page's CSP
// needs no 'unsafe-inline'; validatorUrl null fetches no badge from
// swagger.io.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  supportedSubmitMethods: ["get", "post"],
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "BaseLayout"
});
