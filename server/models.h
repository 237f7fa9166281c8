/* The models being served, swappable while serving: requests take a reference to the registry of
 * the moment and keep it until they finish, while SIGHUP builds a new registry (each --model file
 * read and checked anew, a bad one keeping its old model) and swaps it in. */
#ifndef SRV_MODELS_H
#define SRV_MODELS_H

#include <stddef.h>

#include "../api/model_registry.h"
#include "config.h"

typedef struct srv_models srv_models;

/* One reference to a registry: what a request serves from, from its headers to its end. */
typedef struct srv_model_set srv_model_set;

/* Loads the built-in model and every model of cfg (its specs are copied). Returns NULL after
 * logging why a model could not be loaded (start_failed: the file and what is wrong with it). */
srv_models *srv_models_load(const srv_config *cfg);

/* Frees the models. Call once no request holds a set. NULL is a no-op. */
void srv_models_free(srv_models *m);

/* Reads every model file again and swaps in the result: a model that loads replaces the one of
 * its name (with a new loaded_at), one that fails keeps the old model serving and logs why
 * (model_reload_failed). Requests holding the old set finish on it. Returns how many models
 * failed. Call from one thread at a time (the main thread, on SIGHUP). */
int srv_models_reload(srv_models *m);

/* The current set, with a reference the caller drops with srv_models_release. Thread-safe. */
srv_model_set *srv_models_acquire(srv_models *m);

/* Drops a reference; the last one frees a set that was swapped out (and models no newer set
 * shares). NULL is a no-op. Thread-safe. */
void srv_models_release(srv_model_set *s);

/* The registry of a set, valid while the reference is held. */
const api_model_registry *srv_model_set_registry(const srv_model_set *s);

#endif
