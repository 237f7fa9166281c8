/* Jobs: a decoded request of either attention endpoint, run and encoded on a worker. The server
 * suspends the connection, queues one job and resumes it with the bytes, whatever the endpoint;
 * only this file knows there are two kinds. */
#include "api.h"

#include "../core/status.h"
#include "model_request.h"
#include "request.h"

int api_job_decode(api_job *job, const api_codec *codec, const api_model *model, const char *body,
                   size_t len, const api_limits *limits, api_error *err)
{
    *job = (api_job){.codec = codec};
    if (!model) return codec->decode_attention(body, len, limits, &job->attention, err);
    return codec->decode_model_attention(body, len, model, limits, &job->model, err);
}

double api_job_requested_timeout(const api_job *job)
{
    const api_attention_spec *s = job->attention ? &job->attention->spec
                                  : job->model   ? &job->model->spec.opts
                                                 : NULL;
    return s && s->has_timeout ? s->timeout : 0.0;
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

int api_job_run(api_job *job, at_pool *pool, int worker, api_buf *out, api_error *err)
{
    int status;
    /* A job whose deadline passed while it waited in the queue is not started at all. */
    int rc = at_cancel_status(job->cancel);
    if (rc != AT_OK) return stopped(job, rc, err);
    if (job->attention) job->attention->desc.cancel = job->cancel;
    if (job->model) job->model->opts.cancel = job->cancel;
    if (job->attention) {
        status = api_attention_run(job->attention, pool, worker, err);
        if (status == 0) status = job->codec->encode_attention(job->attention, out, err);
    } else if (job->model) {
        status = api_model_attention_run(job->model, pool, worker, err);
        if (status == 0) status = job->codec->encode_model_attention(job->model, out, err);
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
}
