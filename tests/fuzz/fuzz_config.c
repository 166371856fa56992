/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness of the cluster.json parser (lib/config/ainftp_config.c):
 * the input is the file's text. It must never crash or leak, and a refusal
 * must say why (a non-empty, terminated error line). The text goes through
 * ainftp_config_parse, as a C string; an input with a NUL byte in it also
 * through ainftp_config_load, from a memfd, where the parser sees the whole
 * length (a NUL inside the file is a syntax error, not the end of the text).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ainftp_config.h"

#define FZ_ERR_LEN 512

static struct ainftp_config fz_cfg;
static int fz_memfd = -1;
static char fz_path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_memfd = memfd_create("fuzz_config", MFD_CLOEXEC);
	if (fz_memfd < 0) {
		perror("fuzz_config: memfd_create");
		abort();
	}
	snprintf(fz_path, sizeof(fz_path), "/proc/self/fd/%d", fz_memfd);
	return 0;
}

/* A refusal names its cause in one terminated line. */
static void
fz_check(int rc, const char *err, const char *how)
{
	if (rc == 0)
		return;
	if (rc != -1 || err[0] == '\0' || memchr(err, '\0', FZ_ERR_LEN) == NULL) {
		fprintf(stderr, "fuzz_config: %s refused the text with rc %d and no message\n", how,
			rc);
		abort();
	}
}

static void
fz_parse_string(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), err[FZ_ERR_LEN];

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	memset(err, 0, sizeof(err));
	fz_check(ainftp_config_parse(text, "fuzz.json", &fz_cfg, err, sizeof(err)), err,
		 "ainftp_config_parse");
	free(text);
}

static void
fz_parse_file(const uint8_t *data, size_t size)
{
	char err[FZ_ERR_LEN];

	if (ftruncate(fz_memfd, 0) != 0 || pwrite(fz_memfd, data, size, 0) != (ssize_t)size) {
		perror("fuzz_config: memfd");
		abort();
	}
	memset(err, 0, sizeof(err));
	fz_check(ainftp_config_load(fz_path, &fz_cfg, err, sizeof(err)), err, "ainftp_config_load");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_parse_string(data, size);
	if (memchr(data, '\0', size) != NULL)
		fz_parse_file(data, size);
	return 0;
}
