/* Jobs: a decoded request of any attention route, run and encoded on a worker. The server
 * suspends the connection, queues one job and resumes it with the response, whatever the route
 * and the protocol; only this file knows there are two kinds of request. */
#include "api.h"
#include "protocol.h"

#include <math.h>

#include "../core/cost.h"
#include "../core/status.h"
#include "model_request.h"
#include "request.h"

int api_job_decode(api_job *job, const api_protocol *protocol, const api_route *route,
                   const api_http_request *req, const api_limits *limits, api_error *err)
{
    *job = (api_job){.protocol = protocol, .route = *route};
    int rc = protocol->decode(req, limits, job, err);
    if (rc != 0) api_job_free(job);
    return rc;
}

double api_job_requested_timeout(const api_job *job)
{
    const api_attention_spec *s = job->attention ? &job->attention->spec
                                  : job->model   ? &job->model->spec.opts
                                                 : NULL;
    return s && s->has_timeout ? s->timeout : 0.0;
}

double api_job_flops(const api_job *job)
{
    if (job->attention) return at_attention_flops(&job->attention->desc);
    if (job->model && !job->model->tf)
        return (job->model->spec.stored ? at_model_flops_projected : at_model_flops)(
            api_model_core(job->model->model), job->model->seq.len, job->model->source.len,
            &job->model->opts);
    return INFINITY; /* a transformer folder's model, or no request */
}

/* The answer for a job that was stopped before it finished. */
static int stopped(const api_job *job, int rc, api_error *err)
{
    if (rc == AT_ETIMEDOUT)
        return api_error_set(err, API_ERR_TIMEOUT, "",
                             "the request did not finish within its deadline of %g s "
                             "(--request-timeout, or the request's \"timeout\"); send a smaller "
                             "request, or retry when the server is less busy",
                             job->timeout);
    return api_error_set(err, API_ERR_CANCELED, "", "the client went away; the work was stopped");
}

int api_job_run(api_job *job, at_pool *pool, int worker, api_http_response *out, api_error *err)
{
    int status;
    /* A job whose deadline passed while it waited in the queue is not started at all. */
    int rc = at_cancel_status(job->cancel);
    if (rc != AT_OK) return stopped(job, rc, err);
    if (job->attention) job->attention->desc.cancel = job->cancel;
    if (job->model) job->model->opts.cancel = job->cancel;
    if (job->attention || job->model) {
        status = job->attention ? api_attention_run(job->attention, pool, worker, err)
                                : api_model_attention_run(job->model, pool, worker, err);
        if (status == 0) status = job->protocol->encode(job, out, err);
    } else if (job->protocol && job->protocol->run) {
        status = job->protocol->run(job, pool, worker, out, err);
    } else {
        status = api_error_set(err, API_ERR_INTERNAL, "", "no request to run");
    }
    if (status == 504 || status == 499) status = stopped(job, at_cancel_status(job->cancel), err);
    return status;
}

void api_job_free(api_job *job)
{
    api_attention_request_free(job->attention);
    api_model_request_free(job->model);
    job->attention = NULL;
    job->model = NULL;
    if (job->wire && job->protocol && job->protocol->wire_free) job->protocol->wire_free(job->wire);
    job->wire = NULL;
}
