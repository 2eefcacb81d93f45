// The /docs page's own script (served as /docs/docs.js, so the page needs no inline
// script): render this server's OpenAPI document with Swagger UI.  The document's URL is
// relative to the page, so it works behind a path prefix too.
'use strict'
window.addEventListener('load', function () {
  window.ui = window.SwaggerUIBundle({
    url: new URL('v1/openapi.json', document.baseURI).href,
    dom_id: '#swagger-ui',
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    deepLinking: true,
    validatorUrl: null, // never ask an outside validator about the document
    defaultModelsExpandDepth: 0,
    docExpansion: 'list',
    tryItOutEnabled: false
  })
})
