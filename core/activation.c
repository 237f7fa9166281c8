/* Activations of the feed-forward sublayer, applied in place to a block of rows. Each value is
 * computed in double, so the float result is the correctly rounded one up to libm's error. */
#include "activation.h"

#include <math.h>
#include <string.h>

int at_activation_parse(const char *name, at_activation *out)
{
    if (!strcmp(name, "gelu"))
        *out = AT_ACT_GELU;
    else if (!strcmp(name, "gelu_new") || !strcmp(name, "gelu_pytorch_tanh"))
        *out = AT_ACT_GELU_TANH;
    else if (!strcmp(name, "relu"))
        *out = AT_ACT_RELU;
    else
        return -1;
    return 0;
}

const char *at_activation_name(at_activation act)
{
    return act == AT_ACT_GELU ? "gelu" : act == AT_ACT_GELU_TANH ? "gelu_new" : "relu";
}

double at_ref_activation(at_activation act, double v)
{
    switch (act) {
    case AT_ACT_GELU: return 0.5 * v * (1.0 + erf(v * M_SQRT1_2));
    case AT_ACT_GELU_TANH:
        return 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    case AT_ACT_RELU: return v > 0 ? v : 0;
    }
    return v;
}

void at_activation_apply(at_activation act, float *x, int64_t n)
{
    if (act == AT_ACT_RELU) {
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] > 0 ? x[i] : 0.0f;
        return;
    }
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)at_ref_activation(act, x[i]);
}
