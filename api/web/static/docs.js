// Starts Swagger UI on /docs (a file, not an inline script: the page's Content-Security-Policy allows only
// scripts from this server). The OpenAPI document's address is in the page, under any --root-path prefix.
(function () {
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset].filter(Boolean)
  });
})();
