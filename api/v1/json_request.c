/* From a parsed JSON body to an api_attention_request: the table of fields, a reader for each
 * option (shared with the model endpoint, json_model.c), the scan of every tensor's shape, then
 * (once api_attention_prepare has validated the shapes and made the arena) the copy of the
 * data. */
#include "json_request.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../float_format.h"
#include "../json_number.h"
#include "../json_tensor.h"
#include "../request.h"
#include "../source_store.h"

/* The fields of a /v1/attention body: its tensors, then the options it shares with the model
 * endpoint (json_request.h's API_JSON_OPTIONS, in that order, so that &f[F_OPTIONS] is the
 * options' array). */
enum field {
    F_QUERY,
    F_KEY,
    F_VALUE,
    F_MASK,
    F_KEY_LENGTHS,
    F_ADDITIVE,
    F_OPTIONS,
    F_SOURCE_ID = F_OPTIONS + API_OPT_COUNT, /* after the options, which are contiguous */
    F_COUNT
};

#define F_SEED (F_OPTIONS + API_OPT_SEED)

static const char *const field_names[F_COUNT] = {"query",
                                                 "key",
                                                 "value",
                                                 "mask",
                                                 "key_lengths",
                                                 "additive",
#define OPTION_NAME(name, str) str,
                                                 API_JSON_OPTIONS(OPTION_NAME)
#undef OPTION_NAME
                                                     "source_id"};

/* The members of "additive". */
enum additive_member { A_WEIGHT, A_BIAS, A_V, A_COUNT };
static const char *const additive_names[A_COUNT] = {"weight", "bias", "v"};

/* Edit distance of two short strings, capped: enough to suggest "causal" for "casual". */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 32 || lb > 32) return 99;
    int row[33];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = diag + cost;
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* "unknown field 'x'; known fields: a, b (did you mean 'b'?)" for a member of `where` ("" for
 * the body itself, "additive" for its parameters). */
static int unknown_member(const char *where, const char *name, const char *const *names, int n,
                          api_error *err)
{
    char known[256];
    size_t len = 0;
    known[0] = '\0';
    const char *best = NULL;
    int best_d = 3; /* suggest only close matches; one-letter names only for one-letter typos */
    for (int f = 0; f < n; f++) {
        if (len < sizeof known)
            len +=
                (size_t)snprintf(known + len, sizeof known - len, "%s%s", f ? ", " : "", names[f]);
        int d = edit_distance(name, names[f]);
        if (d < best_d && d < (int)strlen(names[f])) best_d = d, best = names[f];
    }
    char hint[96] = "";
    if (best) snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
    if (!*where)
        return api_error_set(err, API_ERR_UNKNOWN_FIELD, name,
                             "unknown field '%.64s'; known fields: %s%s", name, known, hint);
    return api_error_set(err, API_ERR_UNKNOWN_FIELD, where,
                         "%s: unknown member '%.64s'; known members: %s%s", where, name, known,
                         hint);
}

int api_json_collect_members(const cJSON *obj, const char *where, const char *const *names, int n,
                             const cJSON **found, int *index, api_error *err)
{
    int pos = 0;
    for (int f = 0; f < n; f++)
        found[f] = NULL;
    for (const cJSON *c = obj->child; c; c = c->next, pos++) {
        int f = 0;
        while (f < n && strcmp(c->string, names[f]) != 0)
            f++;
        if (f == n) return unknown_member(where, c->string, names, n, err);
        if (found[f]) {
            if (!*where)
                return api_error_set(err, API_ERR_INVALID_JSON, names[f],
                                     "duplicate field '%s': send each field once", names[f]);
            return api_error_set(err, API_ERR_INVALID_JSON, where,
                                 "%s: duplicate member '%s': send each member once", where,
                                 names[f]);
        }
        found[f] = c;
        if (index) index[f] = pos;
    }
    return 0;
}

/* ---- options ---- */

static int want_bool(const cJSON *node, const char *name, bool *out, api_error *err)
{
    if (!cJSON_IsBool(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name, "%s: expected true or false, got %s",
                             name, api_json_type_name(node));
    *out = cJSON_IsTrue(node);
    return 0;
}

/* Picks `node`'s string out of names[0..n); `allowed` lists them for messages. */
static int read_choice(const cJSON *node, const char *name, const char *const *names, int n,
                       const char *allowed, int *out, api_error *err)
{
    if (!cJSON_IsString(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, name, "%s: expected a string (%s), got %s",
                             name, allowed, api_json_type_name(node));
    for (int i = 0; i < n; i++)
        if (strcmp(node->valuestring, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return api_error_set(err, API_ERR_INVALID_VALUE, name,
                         "%s: unknown %s '%.64s'; allowed values: %s", name, name,
                         node->valuestring, allowed);
}

static int read_score(const cJSON *node, at_score *out, api_error *err)
{
    static const char *const names[] = {"scaled_dot", "dot", "additive"};
    static const at_score scores[] = {AT_SCORE_SCALED_DOT, AT_SCORE_DOT, AT_SCORE_ADDITIVE};
    int i, rc = read_choice(node, "score", names, 3,
                            "\"scaled_dot\" (q.k / sqrt(d), the default), \"dot\" (q.k) or "
                            "\"additive\" (v . tanh(W [q; k] + b))",
                            &i, err);
    if (!rc) *out = scores[i];
    return rc;
}

static int read_selection(const cJSON *node, at_selection *out, api_error *err)
{
    static const char *const names[] = {"soft", "topk", "sample"};
    static const at_selection sels[] = {AT_SELECT_SOFT, AT_SELECT_TOPK, AT_SELECT_SAMPLE};
    int i, rc = read_choice(node, "selection", names, 3,
                            "\"soft\" (softmax, the default), \"topk\" (the k highest scores) "
                            "or \"sample\" (k keys drawn from the softmax)",
                            &i, err);
    if (!rc) *out = sels[i];
    return rc;
}

static int read_scale(const cJSON *node, float *out, api_error *err)
{
    if (!cJSON_IsNumber(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "scale", "scale: expected a number, got %s",
                             api_json_type_name(node));
    double v = node->valuedouble;
    if (!(fabs(v) < API_F32_OVERFLOW)) {
        char num[API_FLOAT_FORMAT_MAX];
        if (api_double_format(v, num) == 0) snprintf(num, sizeof num, "the number");
        return api_error_set(err, API_ERR_INVALID_VALUE, "scale",
                             "scale: %s is not a finite float32", num);
    }
    *out = (float)v;
    return 0;
}

/* The longest "timeout" a client may ask for: a day (the server's own deadline is shorter). */
#define MAX_TIMEOUT_SECONDS 86400.0

/* "timeout": seconds, a number > 0. */
static int read_timeout(const cJSON *node, double *out, api_error *err)
{
    if (!cJSON_IsNumber(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "timeout",
                             "timeout: expected a number of seconds, got %s",
                             api_json_type_name(node));
    double v = node->valuedouble;
    if (!(v > 0.0 && v <= MAX_TIMEOUT_SECONDS))
        return api_error_set(err, API_ERR_INVALID_VALUE, "timeout",
                             "timeout: expected seconds > 0 and at most %g, got %g",
                             MAX_TIMEOUT_SECONDS, v);
    *out = v;
    return 0;
}

/* The seed, from the digits in the body so that every 64-bit value is exact. */
static int read_seed(const cJSON *node, int index, const char *body, size_t len, uint64_t *out,
                     api_error *err)
{
    const char *text = NULL;
    size_t text_len = 0;
    if (!api_json_member_text(body, len, index, &text, &text_len)) text = NULL;
    return api_json_read_u64(node, text, text_len, "seed", out, err);
}

/* ---- tensor shapes ---- */

/* Scans an optional tensor field; *has says whether it was sent. */
static int scan_optional(const cJSON *node, const char *name, const char *what, bool *has,
                         api_shape *shape, api_error *err)
{
    *has = node != NULL;
    return node ? api_json_tensor_scan(node, name, what, shape, err) : 0;
}

/* The additive parameters' tensors are named "additive.weight" in messages but reported in
 * field "additive". */
static int as_additive(int rc, api_error *err)
{
    if (rc) snprintf(err->field, sizeof err->field, "additive");
    return rc;
}

static int scan_additive(const cJSON *node, api_attention_spec *s, api_error *err)
{
    if (!cJSON_IsObject(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "additive",
                             "additive: expected an object {\"weight\": [da, dq + dk], \"bias\": "
                             "[da] (optional), \"v\": [da] (optional)}, got %s",
                             api_json_type_name(node));
    const cJSON *m[A_COUNT];
    int rc = api_json_collect_members(node, "additive", additive_names, A_COUNT, m, NULL, err);
    if (rc) return rc;
    if (!m[A_WEIGHT])
        return api_error_set(err, API_ERR_MISSING_FIELD, "additive",
                             "additive: missing member 'weight', numbers [da, dq + dk] that "
                             "project [q; k] to da dimensions");
    s->has_additive = true;
    rc = api_json_tensor_scan(m[A_WEIGHT], "additive.weight", "numbers [da, dq + dk]",
                              &s->additive_weight, err);
    if (!rc)
        rc = scan_optional(m[A_BIAS], "additive.bias", "numbers [da]", &s->has_additive_bias,
                           &s->additive_bias, err);
    if (!rc)
        rc = scan_optional(m[A_V], "additive.v", "numbers [da]", &s->has_additive_v, &s->additive_v,
                           err);
    return as_additive(rc, err);
}

static int scan_key_lengths(const cJSON *node, api_attention_spec *s, api_error *err)
{
    if (!cJSON_IsArray(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "key_lengths",
                             "key_lengths: expected an array of integers, one key count per "
                             "batch entry, got %s",
                             api_json_type_name(node));
    s->has_key_lengths = true;
    s->key_lengths_count = 0;
    for (const cJSON *c = node->child; c; c = c->next)
        s->key_lengths_count++;
    return 0;
}

/* Every top-level field, by enum field (NULL when absent), and its position in the body. */
typedef struct fields {
    const cJSON *f[F_COUNT];
    int index[F_COUNT];
} fields;

int api_json_read_options(const cJSON *const *o, int seed_index, const char *body, size_t len,
                          api_attention_spec *s, api_error *err)
{
    int rc;
    s->score = AT_SCORE_SCALED_DOT;
    s->selection = AT_SELECT_SOFT;
    s->return_weights = true;
    s->return_context = true;
    /* Whether the options fit together is api_check_selection_options' to judge (and, for the
     * additive score, each endpoint's), for every codec alike. */
    if (o[API_OPT_SCORE] && (rc = read_score(o[API_OPT_SCORE], &s->score, err))) return rc;
    if (o[API_OPT_SCALE]) {
        if ((rc = read_scale(o[API_OPT_SCALE], &s->scale, err))) return rc;
        s->has_scale = true;
    }
    if (o[API_OPT_SELECTION] && (rc = read_selection(o[API_OPT_SELECTION], &s->selection, err)))
        return rc;
    if (o[API_OPT_K]) {
        if ((rc = api_json_read_int(o[API_OPT_K], "k", "k", "an integer >= 1", 1,
                                    API_JSON_EXACT_INT, &s->k, err)))
            return rc;
        s->has_k = true;
    }
    if (o[API_OPT_NORMALIZE]) {
        if ((rc = want_bool(o[API_OPT_NORMALIZE], "normalize", &s->normalize, err))) return rc;
        s->has_normalize = true;
    }
    if (o[API_OPT_SEED]) {
        if ((rc = read_seed(o[API_OPT_SEED], seed_index, body, len, &s->seed, err))) return rc;
        s->has_seed = true;
    }
    if (o[API_OPT_CAUSAL] && (rc = want_bool(o[API_OPT_CAUSAL], "causal", &s->causal, err)))
        return rc;
    if (o[API_OPT_RETURN_WEIGHTS] &&
        (rc = want_bool(o[API_OPT_RETURN_WEIGHTS], "return_weights", &s->return_weights, err)))
        return rc;
    if (o[API_OPT_RETURN_CONTEXT] &&
        (rc = want_bool(o[API_OPT_RETURN_CONTEXT], "return_context", &s->return_context, err)))
        return rc;
    if (o[API_OPT_AVERAGE_HEADS] &&
        (rc = want_bool(o[API_OPT_AVERAGE_HEADS], "average_heads", &s->average_heads, err)))
        return rc;
    if (o[API_OPT_TIMEOUT]) {
        if ((rc = read_timeout(o[API_OPT_TIMEOUT], &s->timeout, err))) return rc;
        s->has_timeout = true;
    }
    return 0;
}

/* "source_id": takes a reference to the stored source (released by the caller on a later
 * failure, by the request once it exists) and makes its key and value (and key_lengths, when
 * the request sends none) the request's. */
static int use_source(const fields *fs, api_source_store *sources, api_attention_spec *s,
                      api_error *err)
{
    const cJSON *const *f = fs->f;
    const cJSON *node = f[F_SOURCE_ID];
    char qs[128], ks[128], vs[128];
    if (!cJSON_IsString(node))
        return api_error_set(err, API_ERR_INVALID_TYPE, "source_id",
                             "source_id: expected a string (the id of a PUT /v1/sources/{id}), "
                             "got %s",
                             api_json_type_name(node));
    if (f[F_KEY] || f[F_VALUE])
        return api_error_set(err, API_ERR_INVALID_VALUE, "source_id",
                             "source_id: send either \"source_id\" or \"key\"/\"value\", not "
                             "both");
    const char *id = node->valuestring;
    const api_source *src;
    int rc = api_source_store_acquire_request(sources, id, &src, err);
    if (rc) return rc;

    const api_shape *q = &s->query, *k = &src->key;
    int r = q->rank;
    bool fits = k->rank == r && (s->score == AT_SCORE_ADDITIVE || k->ne[r - 1] == q->ne[r - 1]);
    for (int i = 0; fits && i < r - 2; i++)
        fits = k->ne[i] == q->ne[i];
    if (!fits) {
        api_source_store_release(sources, src);
        return api_error_set(err, API_ERR_INVALID_SHAPE, "source_id",
                             "source_id: source '%s' holds key %s and value %s, which the query "
                             "%s does not fit: the query needs the key's rank, leading dims and "
                             "last dim",
                             id, api_shape_str(k, -1, ks, sizeof ks),
                             api_shape_str(&src->value, -1, vs, sizeof vs),
                             api_shape_str(q, -1, qs, sizeof qs));
    }
    if (src->key_lengths && s->has_key_lengths) {
        api_source_store_release(sources, src);
        return api_error_set(err, API_ERR_INVALID_VALUE, "key_lengths",
                             "key_lengths: source '%s' has its own key_lengths; send them with "
                             "the source or with the request, not both",
                             id);
    }
    if (src->key_lengths) {
        s->has_key_lengths = true;
        s->key_lengths_count = src->key_lengths_count;
    }
    s->has_key = s->has_value = true;
    s->key = src->key;
    s->value = src->value;
    s->source = src;
    s->source_store = sources;
    return 0;
}

static int read_spec(const fields *fs, const char *body, size_t len, api_source_store *sources,
                     api_attention_spec *s, api_error *err)
{
    static const char numbers[] = "numbers ([Lq, d], [H, Lq, d] or [B, H, Lq, d])";
    const cJSON *const *f = fs->f;
    int rc;
    memset(s, 0, sizeof *s);

    /* Options first: they are cheap to check and their errors need no tensor scan. */
    int seed_index = f[F_SEED] ? fs->index[F_SEED] : -1;
    if ((rc = api_json_read_options(&f[F_OPTIONS], seed_index, body, len, s, err))) return rc;

    if (!f[F_QUERY])
        return api_error_set(err, API_ERR_MISSING_FIELD, "query",
                             "missing field 'query': a nested array of %s", numbers);
    if ((rc = api_json_tensor_scan(f[F_QUERY], "query", numbers, &s->query, err))) return rc;
    if ((rc = scan_optional(f[F_KEY], "key", "numbers [.., Lk, d]", &s->has_key, &s->key, err)))
        return rc;
    if ((rc = scan_optional(f[F_VALUE], "value", "numbers [.., Lk, dv]", &s->has_value, &s->value,
                            err)))
        return rc;
    if ((rc = scan_optional(f[F_MASK], "mask", "booleans broadcastable to [.., Lq, Lk]",
                            &s->has_mask, &s->mask, err)))
        return rc;
    if (f[F_KEY_LENGTHS] && (rc = scan_key_lengths(f[F_KEY_LENGTHS], s, err))) return rc;
    if (f[F_ADDITIVE] && (rc = scan_additive(f[F_ADDITIVE], s, err))) return rc;
    if (f[F_SOURCE_ID] && (rc = use_source(fs, sources, s, err))) return rc;
    return 0;
}

/* ---- data ---- */

static int read_key_lengths(const cJSON *node, int64_t lk, int64_t *dst, api_error *err)
{
    char want[64], name[48];
    snprintf(want, sizeof want, "an integer 0..%lld (the key count Lk)", (long long)lk);
    int64_t i = 0;
    for (const cJSON *c = node->child; c; c = c->next, i++) {
        snprintf(name, sizeof name, "key_lengths[%lld]", (long long)i);
        int rc = api_json_read_int(c, name, "key_lengths", want, 0, lk, &dst[i], err);
        if (rc) return rc;
    }
    return 0;
}

static int read_additive(const cJSON *node, const api_attention_request *req, api_error *err)
{
    const api_attention_spec *s = &req->spec;
    const cJSON *m[A_COUNT];
    int rc = api_json_collect_members(node, "additive", additive_names, A_COUNT, m, NULL, err);
    if (!rc)
        rc = api_json_tensor_read_f32(m[A_WEIGHT], "additive.weight", &s->additive_weight,
                                      req->additive_weight, err);
    if (!rc && m[A_BIAS])
        rc = api_json_tensor_read_f32(m[A_BIAS], "additive.bias", &s->additive_bias,
                                      req->additive_bias, err);
    if (!rc && m[A_V])
        rc = api_json_tensor_read_f32(m[A_V], "additive.v", &s->additive_v, req->additive_v, err);
    return as_additive(rc, err);
}

static int read_data(const fields *fs, api_attention_request *req, api_error *err)
{
    const api_attention_spec *s = &req->spec;
    const cJSON *const *f = fs->f;
    int rc = api_json_tensor_read_f32(f[F_QUERY], "query", &s->query, req->query, err);
    if (!rc && s->has_key && !s->source)
        rc = api_json_tensor_read_f32(f[F_KEY], "key", &s->key, req->key, err);
    if (!rc && s->has_value && !s->source)
        rc = api_json_tensor_read_f32(f[F_VALUE], "value", &s->value, req->value, err);
    if (!rc && s->has_mask)
        rc = api_json_tensor_read_bool(f[F_MASK], "mask", &s->mask, req->mask, err);
    if (!rc && s->has_key_lengths && !f[F_KEY_LENGTHS]) /* the source's */
        memcpy(req->key_lengths, s->source->key_lengths,
               (size_t)s->key_lengths_count * sizeof(int64_t));
    else if (!rc && s->has_key_lengths)
        rc = read_key_lengths(f[F_KEY_LENGTHS], req->desc.key.ne[2], req->key_lengths, err);
    if (!rc && s->has_additive) rc = read_additive(f[F_ADDITIVE], req, err);
    return rc;
}

int api_json_read_attention(const cJSON *root, const char *body, size_t len,
                            const api_limits *limits, api_attention_request **out, api_error *err)
{
    return api_json_read_attention_sources(root, body, len, limits, NULL, out, err);
}

int api_json_read_attention_sources(const cJSON *root, const char *body, size_t len,
                                    const api_limits *limits, api_source_store *sources,
                                    api_attention_request **out, api_error *err)
{
    *out = NULL;
    fields fs;
    api_attention_spec spec;
    memset(&spec, 0, sizeof spec);
    api_attention_request *req = NULL;
    int rc = api_json_collect_members(root, "", field_names, F_COUNT, fs.f, fs.index, err);
    if (!rc) rc = read_spec(&fs, body, len, sources, &spec, err);
    if (!rc) rc = api_attention_prepare(&spec, limits, &req, err);
    if (!rc) rc = read_data(&fs, req, err);
    if (rc) {
        if (req)
            api_attention_request_free(req); /* releases the source */
        else if (spec.source)
            api_source_store_release(spec.source_store, spec.source);
        return rc;
    }
    *out = req;
    return 0;
}
