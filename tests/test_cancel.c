/* Tests of cancellation below HTTP: a cancelled at_cancel stops every path of the forward pass
 * (tiled, weights, additive, top-k, multi-head) with its status, an uncancelled one changes
 * nothing, and api_job_run answers a stopped job 504 timeout or 499 canceled. */
#include <stdlib.h>
#include <string.h>

#include "../api/api.h"
#include "../api/model_registry.h"
#include "../core/attention.h"
#include "../core/cancel.h"
#include "../core/pool.h"
#include "../core/status.h"
#include "api_support.h"
#include "core_support.h"
#include "harness.h"

/* Runs d on `pool` with cancel status `st`: returns the forward pass's status. */
static int run_with(at_pool *pool, at_attention_desc *d, int st)
{
    at_cancel c;
    at_cancel_init(&c);
    if (st) at_cancel_request(&c, st);
    d->cancel = &c;
    ct_outputs o = ct_alloc_outputs(d);
    at_attention_out out = {.context = o.context, .weights = o.weights};
    int rc = ct_run_forward(pool, d, &out);
    ct_free_outputs(&o);
    d->cancel = NULL;
    return rc;
}

TEST(cancel_stops_every_path)
{
    at_pool *pool = at_pool_new(2, 4);
    ASSERT(pool != NULL);
    ct_rng r = {42};
    for (int kind = 0; kind < 4; kind++) {
        ct_extras x;
        memset(&x, 0, sizeof x);
        at_attention_desc d = ct_random_desc(&r, 2, 2, 40, 8, &x);
        if (kind == 0) d.need_weights = false; /* the tiled path */
        if (kind == 1) d.need_weights = true;
        if (kind == 2) ct_make_additive(&r, &d, &x, d.key.ne[3], 6, true, true);
        if (kind == 3) d.selection = AT_SELECT_TOPK, d.k = 2;
        for (int p = 0; p < 2; p++) {
            at_pool *on = p ? pool : NULL;
            ASSERT_EQ(run_with(on, &d, 0), AT_OK);
            ASSERT_EQ(run_with(on, &d, AT_ETIMEDOUT), AT_ETIMEDOUT);
            ASSERT_EQ(run_with(on, &d, AT_ECANCELED), AT_ECANCELED);
        }
        ct_free_desc(&d);
    }
    at_pool_free(pool);
}

TEST(cancel_first_request_wins)
{
    at_cancel c;
    at_cancel_init(&c);
    ASSERT_EQ(at_cancel_status(&c), AT_OK);
    ASSERT_EQ(at_cancel_status(NULL), AT_OK);
    at_cancel_request(&c, AT_ECANCELED);
    at_cancel_request(&c, AT_ETIMEDOUT);
    ASSERT_EQ(at_cancel_status(&c), AT_ECANCELED);
}

TEST(cancel_job_answers_504_and_499)
{
    api_model_registry *models = api_model_registry_new();
    ASSERT(models != NULL);
    const api_model *m = api_model_registry_find(models, "default");
    ASSERT(m != NULL);
    const char *bodies[] = {"{\"query\": [[1, 2], [3, 4]], \"timeout\": 2.5}",
                            "{\"text\": \"two words\", \"timeout\": 2.5}"};
    for (int i = 0; i < 2; i++) {
        for (int st = 0; st < 3; st++) {
            api_job job;
            api_error err;
            api_http_response out = {0};
            ASSERT_EQ(
                api_test_job_decode(&job, i ? m : NULL, bodies[i], strlen(bodies[i]), NULL, &err),
                0);
            ASSERT_NEAR(api_job_requested_timeout(&job), 2.5, 0);
            at_cancel c;
            at_cancel_init(&c);
            if (st == 1) at_cancel_request(&c, AT_ETIMEDOUT);
            if (st == 2) at_cancel_request(&c, AT_ECANCELED);
            job.cancel = &c;
            job.timeout = 2.5;
            int rc = api_job_run(&job, NULL, 0, &out, &err);
            if (st == 0) ASSERT_EQ(rc, 0);
            if (st == 1) {
                ASSERT_EQ(rc, 504);
                ASSERT_EQ(err.kind, API_ERR_TIMEOUT);
                ASSERT_STREQ(api_error_code(err.kind), "timeout");
                ASSERT_CONTAINS(err.message, "deadline of 2.5 s");
            }
            if (st == 2) {
                ASSERT_EQ(rc, 499);
                ASSERT_STREQ(api_error_code(err.kind), "canceled");
            }
            api_http_response_free(&out);
            api_job_free(&job);
        }
    }
    api_model_registry_free(models);
}
