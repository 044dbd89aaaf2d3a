/* Unit tests for lib/jsonpath: table-driven, (document, path, result). */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "format/jsonpath.h"
#include "tap.h"

static const char store[] =
    "{\"store\": {"
    "  \"book\": ["
    "    {\"category\": \"reference\", \"author\": \"Nigel Rees\", \"title\": \"Sayings of the Century\", \"price\": 8.95},"
    "    {\"category\": \"fiction\", \"author\": \"Evelyn Waugh\", \"title\": \"Sword of Honour\", \"price\": 12.99},"
    "    {\"category\": \"fiction\", \"author\": \"Herman Melville\", \"title\": \"Moby Dick\", \"isbn\": \"0-553-21311-3\", \"price\": 8.99},"
    "    {\"category\": \"fiction\", \"author\": \"J. R. R. Tolkien\", \"title\": \"The Lord of the Rings\", \"isbn\": \"0-395-19395-8\", \"price\": 22.99}"
    "  ],"
    "  \"bicycle\": {\"color\": \"red\", \"price\": 399}"
    "},"
    " \"a.b\": 1, \"it's\": 2, \"big\": 12345678901234567890, \"n\": null, \"t\": true,"
    " \"arr\": [0, 1, 2, 3, 4, 5], \"empty\": [], \"obj\": {}}";

static cJSON *doc;

/* Evaluate path on doc; the result as a compact JSON array. */
static char *
run(const char *path, int *definite, char *errmsg, size_t errsz)
{
	struct jsonpath *jp;
	struct err e = { 0, "" };
	const cJSON **v;
	size_t n, i;
	struct buf b = BUF_INIT;

	if (jsonpath_compile(path, &jp, &e) < 0) {
		snprintf(errmsg, errsz, "%s", e.msg);
		return NULL;
	}
	if (definite)
		*definite = jsonpath_definite(jp);
	if (jsonpath_eval(jp, doc, &v, &n, &e) < 0) {
		snprintf(errmsg, errsz, "%s", e.msg);
		jsonpath_free(jp);
		return NULL;
	}
	buf_addc(&b, '[');
	for (i = 0; i < n; i++) {
		char *s = json_print(v[i]);

		buf_addf(&b, "%s%s", i ? "," : "", s);
		free(s);
	}
	buf_addc(&b, ']');
	free(v);
	jsonpath_free(jp);
	return buf_detach(&b, NULL);
}

static void
check(const char *path, const char *want)
{
	char msg[1024] = "";
	char *got = run(path, NULL, msg, sizeof(msg));

	if (!got)
		printf("# error: %s\n", msg);
	is_str(got, want, "%s", path);
	free(got);
}

static void
refuse(const char *path, const char *want_msg)
{
	char msg[1024] = "";
	char *got = run(path, NULL, msg, sizeof(msg));

	ok(got == NULL, "refused: %s", path);
	like(msg, want_msg, "... with a message naming the problem");
	free(got);
}

static void
definite(const char *path, int want)
{
	char msg[1024];
	int d = -1;
	char *got = run(path, &d, msg, sizeof(msg));

	is_int(d, want, "%s is %sdefinite", path, want ? "" : "not ");
	free(got);
}

int
main(void)
{
	struct err e = { 0, "" };
	struct json_opts o = { "store", 0, 0 };

	doc = json_parse(store, strlen(store), &o, NULL, &e);
	if (!ok(doc != NULL, "test document parses"))
		return done_testing();

	/* The root and names. */
	check("$.t", "[true]");
	check("$.n", "[null]");
	check("$.store.bicycle.color", "[\"red\"]");
	check("$['store']['bicycle']['color']", "[\"red\"]");
	check("$[\"store\"][\"bicycle\"].price", "[399]");
	check("$['a.b']", "[1]");
	check("$['it\\'s']", "[2]");
	check("$.big", "[12345678901234567890]");
	check("$.nothing", "[]");
	check("$.store.nothing.deeper", "[]");
	check("$.t.x", "[]");
	check(" $.t ", "[true]");
	check("$.obj", "[{}]");
	check("$.empty", "[[]]");

	/* Indexes, wildcards, slices, unions. */
	check("$.store.book[0].author", "[\"Nigel Rees\"]");
	check("$.store.book[-1].author", "[\"J. R. R. Tolkien\"]");
	check("$.store.book[4]", "[]");
	check("$.store.book[-5]", "[]");
	check("$.arr[*]", "[0,1,2,3,4,5]");
	check("$.arr.*", "[0,1,2,3,4,5]");
	check("$.store.bicycle.*", "[\"red\",399]");
	check("$.store.book[*].author",
	    "[\"Nigel Rees\",\"Evelyn Waugh\",\"Herman Melville\",\"J. R. R. Tolkien\"]");
	check("$.arr[1:3]", "[1,2]");
	check("$.arr[:2]", "[0,1]");
	check("$.arr[4:]", "[4,5]");
	check("$.arr[-2:]", "[4,5]");
	check("$.arr[::2]", "[0,2,4]");
	check("$.arr[::-1]", "[5,4,3,2,1,0]");
	check("$.arr[5:1:-2]", "[5,3]");
	check("$.arr[1:3:0]", "[]");
	check("$.arr[0,2,-1]", "[0,2,5]");
	check("$.store.bicycle['color','price']", "[\"red\",399]");
	check("$.arr[ 1 , 2 ]", "[1,2]");
	check("$.empty[*]", "[]");
	check("$.t[*]", "[]");

	/* Descendants. */
	check("$..author",
	    "[\"Nigel Rees\",\"Evelyn Waugh\",\"Herman Melville\",\"J. R. R. Tolkien\"]");
	check("$.store..price", "[8.95,12.99,8.99,22.99,399]");
	check("$..book[2].title", "[\"Moby Dick\"]");
	check("$..book[-1:].title", "[\"The Lord of the Rings\"]");
	check("$..isbn", "[\"0-553-21311-3\",\"0-395-19395-8\"]");
	check("$.store.bicycle..*", "[\"red\",399]");
	check("$..nothing", "[]");

	/* Filters. */
	check("$.store.book[?(@.price < 10)].title", "[\"Sayings of the Century\",\"Moby Dick\"]");
	check("$.store.book[?@.price < 10].title", "[\"Sayings of the Century\",\"Moby Dick\"]");
	check("$.store.book[?(@.isbn)].title", "[\"Moby Dick\",\"The Lord of the Rings\"]");
	check("$.store.book[?(!@.isbn)].title", "[\"Sayings of the Century\",\"Sword of Honour\"]");
	check("$.store.book[?(@.category == 'reference')].author", "[\"Nigel Rees\"]");
	check("$.store.book[?(@.category == \"fiction\" && @.price > 20)].title",
	    "[\"The Lord of the Rings\"]");
	check("$.store.book[?(@.price > 20 || @.price < 9)].price", "[8.95,8.99,22.99]");
	check("$.store.book[?(@.price >= 12.99)].price", "[12.99,22.99]");
	check("$.store.book[?(@.price <= 8.99)].price", "[8.95,8.99]");
	check("$.store.book[?(@.category != 'fiction')].price", "[8.95]");
	check("$.store.book[?(@.price < $.store.bicycle.price && @.price > 22)].price", "[22.99]");
	check("$..book[?(@.author == 'Herman Melville')].isbn", "[\"0-553-21311-3\"]");
	check("$.arr[?(@ > 3)]", "[4,5]");
	check("$.arr[?(@ == 2)]", "[2]");
	check("$.store.book[?(@.missing == null)]", "[]");
	check("$.store.book[?(@.missing == @.other)].price", "[8.95,12.99,8.99,22.99]");
	check("$[?(@ == true)]", "[true]");
	check("$[?(@ == null)]", "[null]");
	check("$.store.book[?((@.price < 9) && !(@.isbn))].title", "[\"Sayings of the Century\"]");
	check("$.store.book[?(@.title == 'Moby Dick')].price", "[8.99]");
	check("$.store.book[?(@['category'] == 'reference')].price", "[8.95]");

	/* Function extensions (RFC 9535 section 2.4), as Hurl's filters use them. */
	check("$.store.book[?length(@.title) > 15].title",
	    "[\"Sayings of the Century\",\"The Lord of the Rings\"]");
	check("$[?length(@) == 6]", "[[0,1,2,3,4,5]]");
	check("$.store.book[?length(@.price) == 1]", "[]");
	check("$.store.book[?count(@.isbn) == 1].price", "[8.99,22.99]");
	check("$.store[?count(@.*) > 2].color", "[]");
	check("$.store.book[?count(@..*) == 5].price", "[8.99,22.99]");
	check("$.store.book[?match(@.author, 'J.*')].price", "[22.99]");
	check("$.store.book[?match(@.author, 'Herman')].price", "[]");
	check("$.store.book[?search(@.author, 'Herman')].price", "[8.99]");
	check("$.store.book[?search(@.author, $.store.book[1].category)].price", "[]");
	check("$.store.book[?search(@.category, $.store.book[1].category)].price",
	    "[12.99,8.99,22.99]");
	check("$.store.book[?search(@.author, '(')].price", "[]");
	check("$.store.book[?search(@.price, '8')].price", "[]");
	check("$.store.book[?!match(@.category, 'fiction')].price", "[8.95]");
	check("$.store.book[?value(@.isbn) == '0-553-21311-3'].title", "[\"Moby Dick\"]");
	check("$.store.book[?value(@.*) == 1]", "[]");
	check("$.store.book[?length(value(@.author)) == 10].price", "[8.95]");
	check("$.store.book[?length( @.author ) < 11 && count(@.isbn) == 0].price", "[8.95]");
	/* Hurl also reads a dot before a bracket. */
	check("$.store.book.[0].price", "[8.95]");
	check("$.arr.[1]", "[1]");
	check("$.store.book.[?(@.price > 20)].price", "[22.99]");

	definite("$.a.b[0]['c']", 1);
	definite("$", 1);
	definite("$.a[*]", 0);
	definite("$..a", 0);
	definite("$.a[0,1]", 0);
	definite("$.a[0:1]", 0);
	definite("$.a[?(@.x)]", 0);

	/* Refusals. */
	refuse("", "starts with '$'");
	refuse("store.book", "starts with '$'");
	refuse("$.", "expected a name or '*'");
	refuse("$..", "expected a name");
	refuse("$.a[", "expected a selector");
	refuse("$.a[0", "expected ']'");
	refuse("$.a['x]", "unterminated string");
	refuse("$.a[x]", "unexpected 'x'");
	refuse("$.a b", "column 5");
	refuse("$.a[?(@.b = 1)]", "use '=='");
	refuse("$.a[?(@.b == )]", "expected @, $");
	refuse("$.a[?(@.b == 1]", "expected ')'");
	refuse("$.a[?(@..b == 1)]", "select at most one value");
	refuse("$.a[?(1)]", "comparison operator");
	refuse("$.a['\\x']", "bad escape");
	refuse("$.a[?match(@.b)]", "takes 2 arguments");
	refuse("$.a[?length(@.b, 1) == 1]", "takes 1 argument");
	refuse("$.a[?length(@.b)]", "comparison operator after a function");
	refuse("$.a[?match(@.b, 'x') == true]", "cannot be compared");
	refuse("$.a[?1 == search(@.b, 'x')]", "cannot be compared");
	refuse("$.a[?count(1) == 1]", "takes a path");
	refuse("$.a[?length(@..b) == 1]", "at most one value");
	refuse("$.a[?length(match(@.b, 'x')) == 1]", "not a value");
	refuse("$.a[?length(@.b == 1]", "expected ',' or ')'");
	refuse("$.a[?length(@.b", "expected ')'");
	refuse("$.a[?size(@.b) == 1]", "a function (length, count");
	refuse("$.a[99999999999999999999]", "out of range");
	{
		char deep[400];
		size_t i;

		memcpy(deep, "$.a[?", 5);
		for (i = 5; i < 5 + 300; i++)
			deep[i] = '(';
		deep[i] = '\0';
		refuse(deep, "nested too deeply");
	}
	/* Unicode in quoted names. */
	{
		cJSON *saved = doc;
		char *got;
		char msg[256];

		doc = cJSON_Parse("{\"caf\\u00e9\": 1, \"\\ud83d\\ude00\": 2}");
		got = run("$['caf\\u00e9']", NULL, msg, sizeof(msg));
		is_str(got, "[1]", "\\u escapes in names");
		free(got);
		got = run("$['\\ud83d\\ude00']", NULL, msg, sizeof(msg));
		is_str(got, "[2]", "surrogate pairs in names");
		free(got);
		got = run("$.caf\xc3\xa9", NULL, msg, sizeof(msg));
		is_str(got, "[1]", "UTF-8 in dotted names");
		free(got);
		got = run("$[?length('caf\xc3\xa9') == 4]", NULL, msg, sizeof(msg));
		is_str(got, "[1,2]", "length() counts characters, not bytes");
		free(got);
		cJSON_Delete(doc);
		doc = saved;
	}
	cJSON_Delete(doc);
	return done_testing();
}
