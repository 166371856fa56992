/* SPDX-License-Identifier: BSD-3-Clause */
#include "ainftp_log.h"

RTE_LOG_REGISTER(ainftp_logtype, ainftp, INFO);
