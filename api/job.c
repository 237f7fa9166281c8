/* Jobs: a decoded request of either attention endpoint, run and encoded on a worker. The server
 * suspends the connection, queues one job and resumes it with the bytes, whatever the endpoint;
 * only this file knows there are two kinds. */
#include "api.h"

int api_job_decode(api_job *job, const api_codec *codec, const api_model *model, const char *body,
                   size_t len, const api_limits *limits, api_error *err)
{
    *job = (api_job){.codec = codec};
    if (!model) return codec->decode_attention(body, len, limits, &job->attention, err);
    return codec->decode_model_attention(body, len, model, limits, &job->model, err);
}

int api_job_run(api_job *job, at_pool *pool, int worker, api_buf *out, api_error *err)
{
    int status;
    if (job->attention) {
        status = api_attention_run(job->attention, pool, worker, err);
        if (status == 0) status = job->codec->encode_attention(job->attention, out, err);
    } else if (job->model) {
        status = api_model_attention_run(job->model, pool, worker, err);
        if (status == 0) status = job->codec->encode_model_attention(job->model, out, err);
    } else {
        status = api_error_set(err, API_ERR_INTERNAL, "", "no request to run");
    }
    return status;
}

void api_job_free(api_job *job)
{
    api_attention_request_free(job->attention);
    api_model_request_free(job->model);
    job->attention = NULL;
    job->model = NULL;
}
