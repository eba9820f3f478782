// Starts Swagger UI on /api/docs/. A file of its own, not the inline script drf-spectacular
// ships, so the page keeps the site's Content-Security-Policy (script-src 'self').
(() => {
  const config = JSON.parse(document.getElementById("api-docs-config").textContent);

  const cookie = (name) => {
    const prefix = `${name}=`;
    const found = document.cookie.split("; ").find((part) => part.startsWith(prefix));
    return found ? decodeURIComponent(found.slice(prefix.length)) : "";
  };

  // "Try it out" with the portal's session: Django wants the CSRF token on every write. It is
  // read from the cookie when the request is made, so it is never written into a script.
  const requestInterceptor = (request) => {
    const write = !["GET", "HEAD", "OPTIONS", undefined].includes(request.method);
    const sameOrigin = new URL(request.url, document.baseURI).origin === window.location.origin;
    if (write && sameOrigin) {
      const token = cookie(config.csrfCookie);
      if (token) request.headers[config.csrfHeader] = token;
    }
    return request;
  };

  window.ui = window.SwaggerUIBundle({
    ...config.settings,
    url: config.schemaUrl,
    dom_id: "#swagger-ui",
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor,
  });
})();
