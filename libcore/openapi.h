/* openapi — serve's API described for machines and people: the OpenAPI 3
 * document served at GET /openapi.json, and the self-contained HTML page
 * at GET /docs that renders it in the browser (inline CSS and script, no
 * external assets, works offline).
 *
 * The document covers every path serve answers (/, /health, /metrics,
 * /predict, /v1/completions, /v1/chat/completions, /v1/models,
 * /v1/models/{id}, /api/generate, /api/chat, /api/tags, /api/version,
 * /openapi.json, /docs), their request bodies and response shapes
 * (streaming ones as text/event-stream and application/x-ndjson), the
 * error objects, and the bearer security scheme. serve fills in the
 * version and model name when it sends it.
 */
#ifndef RN_OPENAPI_H
#define RN_OPENAPI_H

#include <stddef.h>

/* The OpenAPI document (JSON text, NUL-terminated) with two fields to fill
 * in, "@VERSION@" and "@MODEL@". */
extern const char rn_openapi_template[];

/* The /docs page (HTML, NUL-terminated); it fetches /openapi.json from the
 * same origin and renders paths, parameters, schemas and examples. */
extern const char rn_docs_html[];

/* The document with both fields filled in, malloc'd (caller frees);
 * NULL on out of memory. Both values are JSON-escaped as they go in (a
 * model name may hold quotes, backslashes, control bytes); NULL counts as
 * "". */
char *rn_openapi_render(const char *version, const char *model);

#endif
