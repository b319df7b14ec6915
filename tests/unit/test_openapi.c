/* openapi: the rendered document parses, is OpenAPI 3.0.x, describes every
 * path of doc/serve.md's endpoint table with its methods (and no other),
 * documents streaming, errors, X-Request-Id and the bearer scheme as the
 * contract says, every $ref resolves, both fields are filled in and a
 * hostile model name is JSON-escaped; the /docs page loads nothing from
 * outside its origin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "openapi.h"

/* doc/serve.md's endpoint table: path and its methods, space-separated. */
static const struct {
    const char *path;
    const char *methods;
} endpoints[] = {
    {"/health", "get"},
    {"/metrics", "get"},
    {"/predict", "post"},
    {"/v1/completions", "post"},
    {"/v1/chat/completions", "post"},
    {"/v1/models", "get"},
    {"/v1/models/{id}", "get"},
    {"/api/generate", "post"},
    {"/api/chat", "post"},
    {"/api/tags", "get"},
    {"/api/version", "get"},
    {"/openapi.json", "get"},
    {"/docs", "get"},
    {"/", "get"},
};
#define N_ENDPOINTS (sizeof endpoints / sizeof endpoints[0])

static const char *const all_methods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

static cJSON *parse_rendered(const char *version, const char *model)
{
    char *text = rn_openapi_render(version, model);
    assert_non_null(text);
    assert_null(strstr(text, "@VERSION@"));
    assert_null(strstr(text, "@MODEL@"));
    cJSON *doc = cJSON_Parse(text);
    if (!doc) fail_msg("document does not parse near: %.60s", cJSON_GetErrorPtr());
    free(text);
    return doc;
}

static cJSON *get(const cJSON *o, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) fail_msg("missing key %s", key);
    return v;
}

static const char *get_str(const cJSON *o, const char *key)
{
    cJSON *v = get(o, key);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

/* "#/components/schemas/X" looked up in doc; NULL when it does not resolve. */
static const cJSON *resolve(const cJSON *doc, const char *ref)
{
    if (strncmp(ref, "#/", 2) != 0) return NULL;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", ref + 2);
    const cJSON *node = doc;
    for (char *save = NULL, *part = strtok_r(buf, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        node = cJSON_GetObjectItemCaseSensitive(node, part);
        if (!node) return NULL;
    }
    return node;
}

/* n followed through a $ref, if it is one. */
static const cJSON *deref(const cJSON *doc, const cJSON *n)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(n, "$ref");
    if (!r) return n;
    const cJSON *t = resolve(doc, r->valuestring);
    if (!t) fail_msg("$ref %s does not resolve", r->valuestring);
    return t;
}

static void test_version_and_fields(void **state)
{
    (void)state;
    cJSON *doc = parse_rendered("0.1.0", "tiny");
    const char *v = get_str(doc, "openapi");
    assert_true(strncmp(v, "3.0.", 4) == 0);
    const cJSON *info = get(doc, "info");
    assert_string_equal(get_str(info, "version"), "0.1.0");
    assert_non_null(strstr(get_str(info, "title"), "runnel"));
    assert_non_null(strstr(get_str(info, "description"), "tiny"));
    cJSON_Delete(doc);

    /* NULL is the empty string */
    char *text = rn_openapi_render(NULL, NULL);
    assert_non_null(text);
    doc = cJSON_Parse(text);
    assert_non_null(doc);
    assert_string_equal(get_str(get(doc, "info"), "version"), "");
    cJSON_Delete(doc);
    free(text);

    /* the template itself has both fields */
    assert_non_null(strstr(rn_openapi_template, "\"@VERSION@\""));
    assert_non_null(strstr(rn_openapi_template, "@MODEL@"));
}

static void test_hostile_names_are_escaped(void **state)
{
    (void)state;
    static const char *const names[] = {
        "my \"odd\" \\model\\", "tab\there\nnewline", "\\\"", "caf\xc3\xa9 \x01\x1f", "@VERSION", "",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cJSON *doc = parse_rendered("1.2.3-\"rc\\1\"", names[i]);
        const cJSON *info = get(doc, "info");
        assert_string_equal(get_str(info, "version"), "1.2.3-\"rc\\1\"");
        assert_non_null(strstr(get_str(info, "description"), names[i]));
        /* an example that is exactly the model name */
        const cJSON *ex = get(get(get(get(get(get(get(get(doc, "paths"), "/health"), "get"), "responses"), "200"),
                                      "content"), "application/json"), "example");
        assert_string_equal(get_str(ex, "model"), names[i]);
        assert_string_equal(get_str(ex, "version"), "1.2.3-\"rc\\1\"");
        cJSON_Delete(doc);
    }
}

static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0)) return 1;
    return 0;
}

static int starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static void test_paths_and_methods(void **state)
{
    (void)state;
    cJSON *doc = parse_rendered("0.1.0", "tiny");
    const cJSON *paths = get(doc, "paths");
    assert_int_equal(cJSON_GetArraySize(paths), (int)N_ENDPOINTS);
    cJSON *ids = cJSON_CreateObject();
    for (size_t i = 0; i < N_ENDPOINTS; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(paths, endpoints[i].path);
        if (!item) fail_msg("path %s missing", endpoints[i].path);
        for (size_t m = 0; m < sizeof all_methods / sizeof all_methods[0]; m++) {
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(item, all_methods[m]);
            int want = has_word(endpoints[i].methods, all_methods[m]);
            if (!want != !op) fail_msg("%s %s: %s", all_methods[m], endpoints[i].path, want ? "missing" : "not served");
            if (!op) continue;
            /* a unique operationId, a summary, a 200 with its content */
            const char *id = get_str(op, "operationId");
            assert_null(cJSON_GetObjectItemCaseSensitive(ids, id));
            cJSON_AddTrueToObject(ids, id);
            assert_true(strlen(get_str(op, "summary")) > 0);
            const cJSON *resp = get(op, "responses");
            const cJSON *ok = deref(doc, get(resp, "200"));
            assert_true(cJSON_GetArraySize(get(ok, "content")) >= 1);
            /* every response names X-Request-Id; errors use the right shape */
            int ollama = starts_with(endpoints[i].path, "/api/");
            for (const cJSON *r = resp->child; r; r = r->next) {
                const cJSON *rr = deref(doc, r);
                get(get(rr, "headers"), "X-Request-Id");
                if (r->string[0] == '2') continue;
                const cJSON *sch = get(get(get(rr, "content"), "application/json"), "schema");
                /* /health answers 503 with its own object while draining */
                const char *want_schema = strcmp(endpoints[i].path, "/health") == 0 && strcmp(r->string, "503") == 0
                                              ? "#/components/schemas/Health"
                                          : ollama ? "#/components/schemas/OllamaError"
                                                   : "#/components/schemas/Error";
                assert_string_equal(get_str(sch, "$ref"), want_schema);
            }
            if (strcmp(all_methods[m], "post") == 0) {
                static const char *const codes[] = {"400", "401", "404", "405", "413", "503"};
                for (size_t c = 0; c < sizeof codes / sizeof codes[0]; c++) get(resp, codes[c]);
                const cJSON *body = deref(doc, get(op, "requestBody"));
                get(get(get(body, "content"), "application/json"), "schema");
            }
        }
    }
    cJSON_Delete(ids);

    /* streaming answers: SSE for the OpenAI paths, NDJSON for Ollama's */
    static const struct {
        const char *path, *type;
    } streams[] = {
        {"/v1/completions", "text/event-stream"},
        {"/v1/chat/completions", "text/event-stream"},
        {"/api/generate", "application/x-ndjson"},
        {"/api/chat", "application/x-ndjson"},
    };
    for (size_t i = 0; i < sizeof streams / sizeof streams[0]; i++) {
        const cJSON *content = get(get(get(get(get(paths, streams[i].path), "post"), "responses"), "200"), "content");
        get(content, streams[i].type);
        get(content, "application/json");
    }
    cJSON_Delete(doc);
}

static void test_security(void **state)
{
    (void)state;
    cJSON *doc = parse_rendered("0.1.0", "tiny");
    const cJSON *scheme = get(get(get(doc, "components"), "securitySchemes"), "bearerAuth");
    assert_string_equal(get_str(scheme, "type"), "http");
    assert_string_equal(get_str(scheme, "scheme"), "bearer");
    const cJSON *global = get(doc, "security");
    assert_int_equal(cJSON_GetArraySize(global), 1);
    get(cJSON_GetArrayItem(global, 0), "bearerAuth");
    /* /health (probes) and /docs (a browser cannot send the key) are exempt */
    const cJSON *paths = get(doc, "paths");
    for (const cJSON *p = paths->child; p; p = p->next)
        for (const cJSON *op = p->child; op; op = op->next) {
            const cJSON *sec = cJSON_GetObjectItemCaseSensitive(op, "security");
            if (strcmp(p->string, "/health") == 0 || strcmp(p->string, "/docs") == 0) {
                assert_non_null(sec);
                assert_int_equal(cJSON_GetArraySize(sec), 0);
                assert_null(cJSON_GetObjectItemCaseSensitive(get(op, "responses"), "401"));
            } else {
                assert_null(sec);
                get(get(op, "responses"), "401");
            }
        }
    const cJSON *u = get(get(get(doc, "components"), "responses"), "Unauthorized");
    get(get(u, "headers"), "WWW-Authenticate");
    get(get(get(get(get(doc, "components"), "responses"), "OllamaServiceUnavailable"), "headers"), "Retry-After");
    cJSON_Delete(doc);
}

/* Every "$ref" anywhere in n resolves in doc; counts them in *refs. */
static void check_refs(const cJSON *doc, const cJSON *n, int *refs)
{
    for (const cJSON *c = n->child; c; c = c->next) {
        if (c->string && strcmp(c->string, "$ref") == 0) {
            assert_true(cJSON_IsString(c));
            if (!starts_with(c->valuestring, "#/components/") || !resolve(doc, c->valuestring))
                fail_msg("$ref %s does not resolve", c->valuestring);
            ++*refs;
        }
        check_refs(doc, c, refs);
    }
}

static void test_refs_resolve(void **state)
{
    (void)state;
    cJSON *doc = parse_rendered("0.1.0", "tiny");
    int refs = 0;
    check_refs(doc, doc, &refs);
    assert_true(refs > 50);
    /* the error objects have the contract's fields */
    const cJSON *schemas = get(get(doc, "components"), "schemas");
    const cJSON *inner = get(get(get(schemas, "Error"), "properties"), "error");
    const cJSON *props = get(inner, "properties");
    get(props, "message");
    get(props, "type");
    get(props, "param");
    get(props, "code");
    assert_string_equal(get_str(get(get(get(schemas, "OllamaError"), "properties"), "error"), "type"), "string");
    cJSON_Delete(doc);
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0) return 1;
    return 0;
}

static void test_docs_page_is_self_contained(void **state)
{
    (void)state;
    const char *h = rn_docs_html;
    assert_true(strlen(h) < 15 * 1024);
    assert_true(starts_with(h, "<!DOCTYPE html>"));
    assert_false(contains_ci(h, "http://"));
    assert_false(contains_ci(h, "https://"));
    assert_false(contains_ci(h, "<script src"));
    assert_false(contains_ci(h, "<link"));
    assert_false(contains_ci(h, "@import"));
    for (const char *p = h; (p = strstr(p, "url(")); p++) /* CSS url(), not curl( */
        assert_true(p > h && p[-1] == 'c');
    assert_false(contains_ci(h, " src="));
    assert_false(contains_ci(h, "innerHTML"));
    assert_true(contains_ci(h, "fetch(\"/openapi.json\""));
    assert_true(contains_ci(h, "sessionStorage"));
    assert_true(contains_ci(h, "Authorization"));
    assert_true(contains_ci(h, "</html>"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_and_fields),
        cmocka_unit_test(test_hostile_names_are_escaped),
        cmocka_unit_test(test_paths_and_methods),
        cmocka_unit_test(test_security),
        cmocka_unit_test(test_refs_resolve),
        cmocka_unit_test(test_docs_page_is_self_contained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
