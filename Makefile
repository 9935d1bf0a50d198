# SPDX-License-Identifier: GPL-2.0
#
# Build ip_vs_tw_resched.ko against an installed kernel's headers.
#   make                      for the running kernel (a real host)
#   make KVER=6.12.117+deb12-cloud-amd64
#   make KDIR=/path/to/kernel/build
# See README.md for the test targets.

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
PWD := $(CURDIR)
CHECKPATCH ?= $(firstword $(wildcard /usr/src/linux-source-*/scripts/checkpatch.pl) checkpatch.pl)

SOURCES := ip_vs_tw_resched.c ip_vs_tw_resched.h compat/compat.h

all: module

module:
	$(MAKE) -C $(KDIR) M=$(PWD) modules

# W=1 must stay silent, sparse (C=1) too: "make check" enforces both.
check:
	$(MAKE) -C $(KDIR) M=$(PWD) W=1 C=1 modules 2>&1 | tee .check.log
	@! grep -E 'warning:|error:' .check.log

style:
	$(CHECKPATCH) --no-tree --strict --show-types \
		--ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES,CONSTANT_COMPARISON \
		-f $(SOURCES)

install: module
	$(MAKE) -C $(KDIR) M=$(PWD) INSTALL_MOD_DIR=updates modules_install
	depmod -a $(KVER)

uninstall:
	rm -f /lib/modules/$(KVER)/updates/ip_vs_tw_resched.ko*
	depmod -a $(KVER)

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean
	rm -f .check.log

# Dependencies, VM tests and the demo: see scripts/.
deps:
	scripts/deps.sh

test:
	scripts/run-tests.sh

demo:
	scripts/demo.sh

.PHONY: all module check style install uninstall clean deps test demo
