# SPDX-License-Identifier: BSD-3-Clause
# shellcheck shell=bash
# Sourced by the tests that run ainftp-app --emulate (config: tests/emu_config.py).

# EAL lcores 0..n-1: plain -l when the machine has the CPUs, else all of them
# floating over the CPUs there are (EAL refuses an lcore without a CPU of its id).
eal_lcores() {
	local n=$1 ncpu
	ncpu=$(nproc)
	if [ "$ncpu" -ge "$n" ]; then
		echo "-l 0-$((n - 1))"
	else
		echo "--lcores (0-$((n - 1)))@(0-$((ncpu - 1)))"
	fi
}
