/* The feed-forward activations of Transformer checkpoints, named as Hugging Face configs name
 * them: "gelu" (the exact, erf form), "gelu_new" (GPT-2's tanh approximation) and "relu". */
#ifndef AT_ACTIVATION_H
#define AT_ACTIVATION_H

#include <stddef.h>
#include <stdint.h>

typedef enum at_activation {
    AT_ACT_GELU,      /* x/2 (1 + erf(x / sqrt 2)) */
    AT_ACT_GELU_TANH, /* x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    AT_ACT_RELU,      /* max(x, 0) */
} at_activation;

/* The activation a config calls `name` ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu") into
 * *out. Returns 0, or -1 for a name it does not know. */
int at_activation_parse(const char *name, at_activation *out);

/* Its config name ("gelu", "gelu_new", "relu"). Static storage. */
const char *at_activation_name(at_activation act);

/* x[0..n) = act(x[0..n)) in float, 16 lanes at a time: within 1e-6 of at_ref_activation for
 * |x| <= 10 (a few float ulps; the erf of "gelu" from a fit with relative error below 1.2e-7).
 * Pure. */
void at_activation_apply(at_activation act, float *x, int64_t n);

/* act(v) in double, the reference the tests compare at_activation_apply with. */
double at_ref_activation(at_activation act, double v);

#endif
