/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_XDP_DST_H
#define AINFTP_XDP_DST_H

/*
 * Key 0 of the XDP program's ainftp_dst map: the worker's address and port,
 * network byte order. One definition for the program (ainftp_xdp.bpf.c) and
 * the library that fills it (ainftp_client_xdp.c).
 */
#include <linux/types.h>

struct ainftp_xdp_dst {
	__u32 addr;
	__u16 port;
	__u16 pad;
};

#endif
