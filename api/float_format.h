/* Shortest decimal text for float32 and double values: the fewest significant digits that read
 * back (strtof / strtod) to the very same bits. Responses print every float through
 * api_float_format, which finds the digits with the Schubfach algorithm (no search, no printf);
 * api_double_format, used only in messages, still searches with printf. */
#ifndef API_FLOAT_FORMAT_H
#define API_FLOAT_FORMAT_H

#include <stddef.h>

/* The smallest magnitude a double may have that rounds to infinity as a float32 (FLT_MAX plus
 * half an ulp). Check |x| < API_F32_OVERFLOW before converting: converting an out-of-range
 * double to float is undefined behaviour in C. */
#define API_F32_OVERFLOW 0x1.ffffffp+127

/* Bytes a buffer needs for any result, NUL included ("-1.17549435e-38" is 15 characters). */
#define API_FLOAT_FORMAT_MAX 32

/* The longest text api_float_format writes, without the NUL: "-1.17549435e-38". */
#define API_FLOAT_TEXT_MAX 15

/* Writes the shortest round-tripping text of `v` into buf (API_FLOAT_FORMAT_MAX bytes) and
 * returns its length. The text is valid JSON: "0.1", "-0", "16777216", "1e-45", "3.4028235e38"
 * (no "+" and no leading zeros in the exponent). Non-finite values have no JSON text: returns 0
 * and writes "". Among texts with the fewest digits it picks the one nearest to v (ties to an
 * even last digit), and lays the digits out as printf's "%.{digits}g" would: plain notation
 * when the decimal exponent X is -4 <= X < digits ("0.0001", "16777216", "2.5"), else
 * scientific ("1e-5", "1e5", "1.2345679e8"). Thread-safe, locale-independent, no allocation. */
size_t api_float_format(float v, char *buf);

/* The same for a double (up to 17 significant digits). Used for numbers echoed in messages;
 * slow (printf search) and assumes the "C" LC_NUMERIC locale. */
size_t api_double_format(double v, char *buf);

#endif
