/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The AF_XDP path of a build without libxdp, libbpf or clang (meson option
 * xdp): option xdp=on says so in its one line and the client uses UDP.
 */
#include <stdio.h>

#include "ainftp_client_xdp.h"

size_t
ainftp_xdp_dgram_limit(void)
{
	return 0;
}

struct ainftp_xdp *
ainftp_xdp_open(const struct ainftp_xdp_params *p, char *why, size_t n)
{
	(void)p;
	snprintf(why, n,
		 "this build of the client has none (libxdp, libbpf or clang were "
		 "missing when it was built: scripts/deps.sh installs them)");
	return NULL;
}

void
ainftp_xdp_close(struct ainftp_xdp *x)
{
	(void)x;
}

/* Never called: open never succeeds. */
int
ainftp_xdp_fd(const struct ainftp_xdp *x)
{
	(void)x;
	return -1;
}

bool
ainftp_xdp_native(const struct ainftp_xdp *x)
{
	(void)x;
	return false;
}

int
ainftp_xdp_send(struct ainftp_xdp *x, const uint8_t *const *pl, const uint16_t *dport, size_t len,
		unsigned int n)
{
	(void)x, (void)pl, (void)dport, (void)len, (void)n;
	return -1;
}

unsigned int
ainftp_xdp_recv(struct ainftp_xdp *x, struct ainftp_xdp_dgram *d, unsigned int n, uint64_t *bad)
{
	(void)x, (void)d, (void)n, (void)bad;
	return 0;
}

void
ainftp_xdp_rx_done(struct ainftp_xdp *x)
{
	(void)x;
}
