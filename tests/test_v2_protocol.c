/* Unit tests of api/v2/protocol.c: its routes (models, versions, the attention model), the
 * readiness answers while draining, and its error shape with Retry-After on a 503. */
#include <string.h>

#include "../api/model_registry.h"
#include "../api/protocol.h"
#include "harness.h"

TEST(v2_protocol_routes)
{
    api_model_registry *reg = api_model_registry_new();
    api_context ctx = {.models = reg, .ready = true, .version = "9.9"};
    const api_protocol *p = api_protocol_for("/v2/models/attention/infer");
    ASSERT(p == &api_v2_protocol);
    ASSERT(api_protocol_for("/v2") == &api_v2_protocol);
    ASSERT(api_protocol_for("/v2x") == NULL);
    api_route r;
    api_error e;
    ASSERT_EQ(p->route("/v2/models/attention/infer", &ctx, &r, &e), 0);
    ASSERT(p->routes[r.id].job && r.model == NULL);
    ASSERT_EQ(p->route("/v2/models/default/versions/1/infer", &ctx, &r, &e), 0);
    ASSERT(p->routes[r.id].job && r.model == api_model_registry_find(reg, "default"));
    ASSERT_STREQ(p->routes[r.id].label, "/v2/models/{name}/infer");
    ASSERT_EQ(p->route("/v2/models/default/versions/1", &ctx, &r, &e), 0);
    ASSERT_STREQ(p->routes[r.id].label, "/v2/models/{name}");
    ASSERT_EQ(p->route("/v2/models/default/versions/10", &ctx, &r, &e), 404);
    ASSERT_STREQ(e.message, "model 'default' has no version '10'; its one version is '1'");
    ASSERT_EQ(p->route("/v2/models/x/ready", &ctx, &r, &e), 404);
    ASSERT_STREQ(e.message, "unknown model 'x'; the models are attention, default");
    ASSERT_EQ(p->route("/v2/models/default/versions//infer", &ctx, &r, &e), -1);
    ASSERT_EQ(p->route("/v2/models/", &ctx, &r, &e), -1);
    ASSERT_EQ(p->route("/v2/health", &ctx, &r, &e), -1);
    api_model_registry_free(reg);
}

TEST(v2_protocol_ready_while_draining_is_503_with_retry_after)
{
    api_model_registry *reg = api_model_registry_new();
    api_context ctx = {.models = reg, .ready = false, .version = "9.9"};
    const api_protocol *p = &api_v2_protocol;
    api_route r;
    api_error e;
    api_http_response out = {0};
    ASSERT_EQ(p->route("/v2/health/ready", &ctx, &r, &e), 0);
    ASSERT_EQ(p->answer(&r, NULL, &ctx, &out, &e), 503);
    ASSERT_EQ(p->encode_error(&e, &out), 0);
    ASSERT_EQ(out.status, 503);
    ASSERT_EQ(out.nheaders, 1);
    ASSERT_STREQ(out.headers[0].name, "Retry-After");
    ASSERT_STREQ(out.content_type, "application/json");
    ASSERT_CONTAINS(out.body.data, "{\"error\":\"the server is shutting down");
    api_http_response_free(&out);
    ASSERT_EQ(p->route("/v2/models/default/ready", &ctx, &r, &e), 0);
    ASSERT_EQ(p->answer(&r, NULL, &ctx, &out, &e), 503);
    /* Liveness does not depend on draining. */
    ASSERT_EQ(p->route("/v2/health/live", &ctx, &r, &e), 0);
    ASSERT_EQ(p->answer(&r, NULL, &ctx, &out, &e), 0);
    ASSERT_EQ(out.status, 200);
    api_http_response_free(&out);
    api_model_registry_free(reg);
}
