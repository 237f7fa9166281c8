/* Activations of the feed-forward sublayer, applied in place to a block of rows, 16 lanes at a
 * time with the branch-free polynomials of simd_int.h (the double-precision definitions stay as
 * the reference). The feed-forward width is a multiple of 16 in every checkpoint we know; a
 * tail is padded. */
#include "activation.h"

#include <math.h>
#include <string.h>

#include "simd_int.h"

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

/* erfc(z) for z >= 0 (Numerical Recipes' erfcc, Chebyshev fit: relative error < 1.2e-7,
 * then float rounding): t exp(-z^2 + P(t)) with t = 1 / (1 + z/2). exp's argument is at most
 * 3e-8, where vexp_nonpositive is still exact to its 2 ulp. */
AT_INLINE vfloat verfc_nonnegative(const vfloat *z)
{
    vfloat t = 1.0f / (1.0f + 0.5f * *z);
    vfloat p = vsplat(0.17087277f);
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    vfloat arg = p * t - 1.26551223f - *z * *z;
    return t * vexp_nonpositive(&arg);
}

/* x/2 (1 + erf(x / sqrt 2)): x (1 - c/2) for x >= 0 and x c / 2 below, c = erfc(|x| / sqrt 2),
 * so the negative side, a small difference of 1 and erf, keeps its relative precision. */
AT_INLINE vfloat vgelu(const vfloat *x)
{
    const vint sign_bit = (vint){0} + INT32_MIN;
    vfloat z = (vfloat)((vint)*x & ~sign_bit) * 0.70710678118654752f;
    vfloat c = verfc_nonnegative(&z);
    vint neg = *x < 0.0f;
    return VSELECT(neg, 0.5f * *x * c, *x - 0.5f * *x * c);
}

AT_INLINE vfloat vgelu_tanh(const vfloat *x)
{
    vfloat y = 0.79788456080286536f * (*x + 0.044715f * *x * *x * *x);
    return 0.5f * *x * (1.0f + vtanh(&y));
}

AT_INLINE vfloat vrelu(const vfloat *x)
{
    vint pos = *x > 0.0f;
    return VSELECT(pos, *x, vsplat(0.0f));
}

AT_INLINE vfloat vact(at_activation act, const vfloat *x)
{
    return act == AT_ACT_GELU ? vgelu(x) : act == AT_ACT_GELU_TANH ? vgelu_tanh(x) : vrelu(x);
}

AT_SIMD_CLONES
void at_activation_apply(at_activation act, float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + VL <= n; i += VL) {
        vfloat v = vload(x + i);
        v = vact(act, &v);
        vstore(x + i, &v);
    }
    if (i < n) {
        float tail[VL] = {0};
        memcpy(tail, x + i, (size_t)(n - i) * sizeof(float));
        vfloat v = vload(tail);
        v = vact(act, &v);
        vstore(tail, &v);
        memcpy(x + i, tail, (size_t)(n - i) * sizeof(float));
    }
}
