/*
 * Fuzz apx_buf_json_compact (JSON text passed on without a parse): it
 * never reads or writes out of bounds; what it accepts is ASCII; and when
 * the input is JSON, the output is the same value. And apx_buf_json_ascii
 * (a text column of a list, apx_db_rows_json): the input as a JSON string
 * in ASCII that reads back as the same bytes, or refused as not UTF-8.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "core/buf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct apx_buf b = { 0 };
	json_t *in, *out;
	size_t i;

	b.max = 1u << 20;
	if (apx_buf_json_compact(&b, (const char *)data, size) != 0) {
		if (b.len != 0)
			__builtin_trap();
		apx_buf_free(&b);
		return 0;
	}
	for (i = 0; i < b.len; i++)
		if ((unsigned char)b.data[i] >= 0x80)
			__builtin_trap();
	in = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (in != NULL) {
		out = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
		if (out == NULL || !json_equal(in, out))
			__builtin_trap();
		json_decref(out);
		json_decref(in);
	}
	apx_buf_reset(&b);
	if (apx_buf_json_ascii(&b, (const char *)data, size) != 0) {
		if (b.len != 0)
			__builtin_trap();
	} else {
		for (i = 0; i < b.len; i++)
			if ((unsigned char)b.data[i] >= 0x80)
				__builtin_trap();
		out = json_loadb(b.data, b.len, JSON_DECODE_ANY |
		    JSON_ALLOW_NUL, NULL);
		if (out == NULL || json_string_length(out) != size ||
		    memcmp(json_string_value(out), data, size) != 0)
			__builtin_trap();
		json_decref(out);
	}
	apx_buf_free(&b);
	return 0;
}
