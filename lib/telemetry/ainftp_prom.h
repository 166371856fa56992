/* SPDX-License-Identifier: BSD-3-Clause */
#ifndef AINFTP_PROM_H
#define AINFTP_PROM_H

/*
 * The Prometheus text endpoint (exposition format 0.0.4), because that is
 * what rack monitoring scrapes. What it serves is the stats line itself, the
 * JSON object of ainftp_stats_json, translated: one source of truth, so the
 * stats line, rte_telemetry and /metrics never disagree on a figure or on a
 * name.
 *
 * The server is one control-plane thread (never an RX or the control lcore)
 * that answers `GET /metrics` and nothing else, one connection at a time,
 * with a short read timeout, so a client that connects and says nothing costs
 * a scrape a second of delay and no more. No DPDK here: tests drive it with
 * a plain pthread and a JSON object of their own.
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A fresh stats object for one scrape (a new reference), or NULL when none can be made. */
typedef json_t *(*ainftp_prom_source)(void *arg);

struct ainftp_prom;

/*
 * The stats object as Prometheus text, NUL-terminated, in *text (free() it);
 * its length in *len. 0, or -1 when out of memory.
 */
int ainftp_prom_render(const json_t *stats, char **text, size_t *len);

/*
 * Listen on ipv4:port (network order; port 0 picks a free one, see
 * ainftp_prom_port). NULL with a line in err when the socket cannot be bound.
 * Nothing is served until ainftp_prom_serve runs.
 */
struct ainftp_prom *ainftp_prom_open(uint32_t ipv4, uint16_t port, ainftp_prom_source source,
				     void *arg, char *err, size_t errlen);
uint16_t ainftp_prom_port(const struct ainftp_prom *p);

/* The server's thread body (pthread or rte_ctrl_thread); returns after ainftp_prom_stop. */
void *ainftp_prom_serve(void *prom);

/* Ask the server to return; it does within one poll interval. */
void ainftp_prom_stop(struct ainftp_prom *p);

/* Scrapes answered with 200, and requests refused (400, 404, 405). */
uint64_t ainftp_prom_scrapes(const struct ainftp_prom *p);
uint64_t ainftp_prom_refused(const struct ainftp_prom *p);

/* After the serving thread has returned (joined). NULL is fine. */
void ainftp_prom_close(struct ainftp_prom *p);

#endif
