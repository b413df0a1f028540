/* test-json.c - farm_json_message: a message is never lost to invalid UTF-8. */
#include <jansson.h>
#include <string.h>

#include "json.h"
#include "tap.h"

static void check(const char *in, const char *want, const char *name)
{
	json_t *j = farm_json_message(in);

	ok(j && json_is_string(j), name);
	is_str(j ? json_string_value(j) : "(null)", want, name);
	json_decref(j);
}

int main(void)
{
	farm_json_init();
	check("plain ascii", "plain ascii", "ASCII kept");
	check("d\xc3\xa9j\xc3\xa0 \xf0\x9f\x9a\x80", "d\xc3\xa9j\xc3\xa0 \xf0\x9f\x9a\x80",
	      "valid UTF-8 kept as is");
	check("Cannot GET /nowh\xe5re", "Cannot GET /nowh?re", "a raw Latin-1 byte becomes ?");
	check("cut \xc3", "cut ?", "a character cut at the end becomes ?");
	check("cut \xe2\x82", "cut ??", "a 3-byte character cut after 2 bytes: two ?");
	check("\xc0\xaf", "??", "overlong form refused");
	check("\xed\xa0\x80", "???", "UTF-16 surrogate refused");
	check("\xf4\x90\x80\x80", "????", "above U+10FFFF refused");
	check("\xe0\x80\x80", "???", "overlong 3-byte form refused");
	check("a\xff" "b\xe2\x82\xac", "a?b\xe2\x82\xac", "a bad byte does not eat the next character");
	ok(farm_json_message(NULL) == NULL, "NULL gives NULL");
	return done_testing();
}
