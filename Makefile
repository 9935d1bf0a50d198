# SPDX-License-Identifier: GPL-2.0
#
# Build ip_vs_tw_resched.ko against an installed kernel's headers.
#   make                      for the running kernel (a real host)
#   make KVER=6.12.117+deb12-cloud-amd64
#   make KDIR=/path/to/kernel/build
#   make install              /lib/modules/$(KVER)/updates + depmod
#   make dkms-install         register with DKMS: rebuilt on kernel upgrades
#   make deb                  the Debian package ip-vs-tw-resched-dkms
#   make rpm                  the RPM ip-vs-tw-resched-dkms (RHEL, EPEL's dkms)
# See README.md for the test targets.

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
PWD := $(CURDIR)
CHECKPATCH ?= $(firstword $(wildcard /usr/src/linux-source-*/scripts/checkpatch.pl) checkpatch.pl)

SOURCES := ip_vs_tw_resched.c ip_vs_tw_resched.h ip_vs_tw_resched_trace.h compat/compat.h
# Everything a build of the module needs, for copies of the tree (DKMS,
# the test builds): make export-src DEST=dir
MODULE_FILES := Kbuild Makefile dkms.conf ip_vs_tw_resched.c ip_vs_tw_resched.h ip_vs_tw_resched_trace.h compat

all: module

module:
	$(MAKE) -C $(KDIR) M=$(PWD) modules

# W=1 must stay silent, sparse (C=1) too: "make check" enforces both, and
# a failed build fails it. scripts/check.sh says what it does where an old
# kernel's own kernel-doc or objtool cannot judge this machine's Perl and GCC.
check:
	@scripts/check.sh $(KDIR) $(CURDIR)

style:
	$(CHECKPATCH) --no-tree --strict --show-types \
		--ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES,CONSTANT_COMPARISON \
		-f $(SOURCES)

# Not signed here: distribution headers carry no signing key (DKMS signs
# with the machine's MOK key where Secure Boot needs it).
install: module
	$(MAKE) -C $(KDIR) M=$(PWD) INSTALL_MOD_DIR=updates \
		CONFIG_MODULE_SIG_ALL= modules_install
	depmod -a $(KVER)

uninstall:
	rm -f /lib/modules/$(KVER)/updates/ip_vs_tw_resched.ko*
	depmod -a $(KVER)

# The Debian package ip-vs-tw-resched-dkms (debian/), built from a copy of
# the tree in build/deb: build/deb/ip-vs-tw-resched-dkms_VERSION_all.deb.
deb:
	rm -rf $(CURDIR)/build/deb
	mkdir -p $(CURDIR)/build/deb/src
	cd $(CURDIR) && cp -r $(MODULE_FILES) debian examples README.md Documentation \
		$(CURDIR)/build/deb/src/
	cd $(CURDIR)/build/deb/src && dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -n 30 ../build.log; exit 1; }
	@ls $(CURDIR)/build/deb/*.deb

# The RPM ip-vs-tw-resched-dkms (rpm/) and its source package, built with
# rpmbuild from a tarball of a copy of the tree in build/rpm:
# build/rpm/ip-vs-tw-resched-dkms-VERSION-1.noarch.rpm (and .src.rpm).
# The spec reads the version from dkms.conf. --nodeps: on Debian, rpm's
# database knows nothing of what dpkg installed (make). Documentation goes
# to /usr/share/doc/NAME, as RHEL's rpm macros have it. Files are not
# group- or world-writable, whatever the umask of the checkout.
RPM_NAME := ip-vs-tw-resched-dkms
RPM_DIR = $(CURDIR)/build/rpm
RPM_SRC = $(RPM_DIR)/src/$(RPM_NAME)-$(DKMS_VER)
rpm:
	rm -rf $(RPM_DIR)
	mkdir -p $(RPM_DIR)/SOURCES $(RPM_SRC)
	cd $(CURDIR) && cp -r $(MODULE_FILES) COPYING rpm examples README.md Documentation $(RPM_SRC)/
	tar -C $(RPM_DIR)/src --mode=go-w -czf $(RPM_DIR)/SOURCES/$(RPM_NAME)-$(DKMS_VER).tar.gz $(RPM_NAME)-$(DKMS_VER)
	cp $(CURDIR)/dkms.conf $(RPM_DIR)/SOURCES/
	rpmbuild -ba --nodeps --define "_topdir $(RPM_DIR)" \
		--define "_rpmdir $(RPM_DIR)" --define "_srcrpmdir $(RPM_DIR)" \
		--define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
		--define "_docdir_fmt %%{NAME}" \
		$(CURDIR)/rpm/$(RPM_NAME).spec >$(RPM_DIR)/build.log 2>&1 || \
		{ tail -n 30 $(RPM_DIR)/build.log; exit 1; }
	@ls $(RPM_DIR)/*.rpm

# DKMS: the sources go to /usr/src/$(DKMS_NAME)-$(DKMS_VER), DKMS builds
# and installs for $(KVER) (the running kernel unless given) and for every
# kernel installed later.
DKMS_NAME := ip_vs_tw_resched
DKMS_VER = $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(CURDIR)/dkms.conf)
DKMS_SRC = /usr/src/$(DKMS_NAME)-$(DKMS_VER)

export-src:
	@test -n "$(DEST)" || { echo "usage: make export-src DEST=dir" >&2; exit 1; }
	rm -rf $(DEST)
	mkdir -p $(DEST)
	cd $(CURDIR) && cp -r $(MODULE_FILES) $(DEST)/

dkms-install:
	$(MAKE) -s export-src DEST=$(DKMS_SRC)
	dkms add -m $(DKMS_NAME) -v $(DKMS_VER)
	dkms build -m $(DKMS_NAME) -v $(DKMS_VER) -k $(KVER)
	dkms install -m $(DKMS_NAME) -v $(DKMS_VER) -k $(KVER)

dkms-uninstall:
	dkms remove -m $(DKMS_NAME) -v $(DKMS_VER) --all
	rm -rf $(DKMS_SRC)

clean:
	$(MAKE) -C $(KDIR) M=$(PWD) clean
	rm -f .check.log

# Dependencies, VM tests and the demo: see scripts/.
deps:
	scripts/deps.sh

test:
	scripts/run-tests.sh

# The benchmark (scripts/bench.sh) and the suite on a KASAN/KMEMLEAK/
# lockdep kernel built from linux-source (scripts/debug-kernel.sh).
bench:
	scripts/bench.sh

debug-test:
	scripts/debug-kernel.sh

demo:
	scripts/demo.sh

.PHONY: all module check style install uninstall export-src deb rpm dkms-install dkms-uninstall \
	clean deps test demo bench debug-test
