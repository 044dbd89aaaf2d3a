/* Manifests and indexes as registries and layouts hold them: oci/oci's
 * oci_manifest_parse() with each Content-Type a registry may send (or
 * none), each descriptor written back; the first line through oci/ref's
 * ref_parse(), as a FROM or a tag names an image. */
#include "oci/oci.h"
#include "oci/ref.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hints[] = {
		NULL, MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST, MT_DOCKER_LIST,
		"application/json", "text/plain"
	};
	struct err e = { 0, "" };
	size_t i, k;

	fuzz_init();
	for (i = 0; i < sizeof(hints) / sizeof(*hints); i++) {
		struct oci_manifest m;

		if (oci_manifest_parse((const char *)data, size, hints[i], &m, &e) < 0)
			continue;
		cJSON_Delete(oci_desc_json(&m.config));
		for (k = 0; k < m.nlayers; k++)
			cJSON_Delete(oci_desc_json(&m.layers[k]));
		oci_manifest_free(&m);
	}
	{
		char *s = fuzz_str(data, size), *nl = strchr(s, '\n');
		struct image_ref r;

		if (nl)
			*nl = '\0';
		if (ref_parse(s, &r, &e) == 0) {
			free(ref_string(&r));
			free(ref_name(&r));
			free(ref_with_digest(&r, "sha256:"
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
			ref_free(&r);
		}
		free(s);
	}
	return 0;
}
