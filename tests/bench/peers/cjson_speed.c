/* Plain cJSON printing and parsing a flat array of n random floats (default 1M): what a C service
 * built on cJSON pays for its wire format. Prints sizes, times and rates on one line.
 * Usage: cjson_speed [n]. Build: cc -O2 cjson_speed.c -lcjson */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000000;
    if (n < 1) n = 1000000;
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    if (!x || !y) return 1;
    srand(1);
    for (int i = 0; i < n; i++)
        x[i] = (float)rand() / (float)RAND_MAX * 2 - 1;
    double t0 = now();
    cJSON *arr = cJSON_CreateFloatArray(x, n);
    char *text = cJSON_PrintUnformatted(arr);
    double t1 = now();
    size_t len = strlen(text);
    cJSON *parsed = cJSON_Parse(text);
    double t2 = now();
    int i = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, parsed) y[i++] = (float)e->valuedouble;
    double t3 = now();
    printf("n=%d json=%.1f MB  cJSON print %.0f ms (%.0f MB/s)  cJSON parse %.0f ms (%.0f MB/s)  "
           "walk %.0f ms\n",
           n, (double)len / 1e6, (t1 - t0) * 1e3, (double)len / 1e6 / (t1 - t0), (t2 - t1) * 1e3,
           (double)len / 1e6 / (t2 - t1), (t3 - t2) * 1e3);
    cJSON_Delete(arr);
    cJSON_Delete(parsed);
    free(text);
    free(x);
    free(y);
    return 0;
}
