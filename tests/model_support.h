/* Helpers shared by the token-sequence model tests (test_tokenizer.c, test_safetensors.c,
 * test_mha.c, test_models.c): fixture files, running multi-head attention the way the server
 * will (as a pool job, with an exactly sized workspace), and scratch files under /tmp.
 * Prefix mt_ ("model test"). */
#ifndef TESTS_MODEL_SUPPORT_H
#define TESTS_MODEL_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../api/model_registry.h"
#include "../core/mha.h"

/* $ATTND_FIXTURES_DIR/rel, or tests/fixtures/rel (tests run from the repo root), into buf. */
const char *mt_fixture_path(const char *rel, char *buf, size_t len);

/* The parsed fixture file (cJSON_Delete it); fails the test when it is missing or invalid. */
cJSON *mt_load_json(const char *rel);

/* A registry with "default" and the fixture models tiny, tiny_f16 and tiny_bf16. */
api_model_registry *mt_fixture_registry(void);

/* Runs at_mha_forward as a job on `pool` (pool NULL: on this thread) with a workspace of
 * exactly at_mha_workspace_size bytes, after at_mha_check (which must pass). Returns the
 * forward pass's status. */
int mt_run_mha(at_pool *pool, const at_mha_weights *w, const float *x, int64_t len,
               const float *src, int64_t src_len, const at_attention_desc *opts,
               const at_mha_out *out);

/* A fresh directory under /tmp (mkdtemp); mt_tmpdir_remove deletes it and the files in it. */
void mt_tmpdir(char *dir, size_t len);
void mt_tmpdir_remove(const char *dir);

/* Writes n bytes to dir/name and returns the path in buf. Fails the test on error. */
const char *mt_write_file(const char *dir, const char *name, const void *data, size_t n, char *buf,
                          size_t len);

/* The body of POST /v1/models/{name}/attention for a case of model_cases.json: its input
 * ("text", "tokens" or "ids"), "source", "causal", "average_heads" and "score" (malloc'd). */
char *mt_case_body(const cJSON *c);

/* Checks the response `got` of a model_cases.json case: tokens and ids (and source_tokens and
 * source_ids) as expected (for ids sent to a vocabulary model, the tokens are the vocabulary's
 * lines), context to 1e-5 absolute + 1e-4 relative, weights to 1e-5 absolute, and meta's model,
 * attention kind, shapes, score and causal. Fails the test with the case's name. */
void mt_check_case_response(const cJSON *c, const cJSON *got);

/* Writes dir/name, a copy of the fixture tiny.safetensors edited for a test, and vocab.txt
 * beside it: the tensors whose names start with `drop_prefix` (NULL: none; they must be the
 * last ones in the file, as "additive." is) are left out, and tensor `reshape_name` (NULL:
 * none) gets the shape `reshape`, a JSON array such as "[4,4]" (the data stays as it is).
 * Returns the path in buf. Fails the test on error. */
const char *mt_write_tiny_variant(const char *dir, const char *name, const char *drop_prefix,
                                  const char *reshape_name, const char *reshape, char *buf,
                                  size_t len);

#endif
