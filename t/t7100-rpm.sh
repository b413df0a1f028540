#!/bin/bash
# t7100-rpm.sh - `make rpm` builds the source and binary RPMs from farm.spec (rpmbuild
# --nodeps in a private _topdir), and the package is what Fedora conventions ask for:
# payload paths, owners and modes; config files marked %config(noreplace); systemd,
# sysusers and tmpfiles scriptlets; dependencies.

. "$(dirname "$0")/test-lib.sh"

if ! command -v rpmbuild >/dev/null; then
	echo "1..0 # SKIP rpmbuild is not installed (Debian package rpm; scripts/deps installs it)"
	trap - EXIT
	cd "$TEST_DIR" && rm -rf "$TRASH"
	exit 0
fi

TOP=$TRASH/rpmbuild
VERSION=$(cat "$SRC_DIR/VERSION")
RPM=
SRPM=

# qlv PATH: the `rpm -qlv` line of PATH ("mode links owner group size date path").
qlv() { awk -v p="$1" '$NF == p' payload; }
field() { qlv "$1" | awk -v n="$2" '{ print $n }'; }

test_expect_success 'make rpm builds a source and a binary package' '
	make -s -C "$SRC_DIR" BUILD="$FARM_BUILD" RPM_TOP="$TOP" rpm >rpm.out 2>&1 ||
		{ cat rpm.out; false; } &&
	SRPM=$(ls "$TOP"/SRPMS/farm-$VERSION-*.src.rpm) &&
	RPM=$(ls "$TOP"/RPMS/*/farm-$VERSION-*.rpm) &&
	test -f "$SRPM" && test -f "$RPM" &&
	rpm -qlvp "$RPM" >payload 2>/dev/null
'

test_expect_success 'name, version (from VERSION) and summary' '
	test_equal "$(rpm -qp --qf "%{NAME} %{VERSION}" "$RPM" 2>/dev/null)" "farm $VERSION" &&
	test -n "$(rpm -qp --qf "%{SUMMARY}" "$RPM" 2>/dev/null)"
'

test_expect_success 'the %check section ran the unit tests and the fuzz corpora' '
	test_grep "Executing(%check)" "$TOP/rpmbuild.log" &&
	test_grep "build/t/test-" "$TOP/rpmbuild.log" &&
	test_grep "^ok 1 - fuzz-" "$TOP/rpmbuild.log"
'

test_expect_success 'the source package carries the spec, the tarball and the sysusers file' '
	rpm -qlp "$SRPM" >srpm.list 2>/dev/null &&
	test_grep "^farm.spec$" srpm.list &&
	test_grep "^farm-$VERSION.tar.gz$" srpm.list &&
	test_grep "^farm.sysusers$" srpm.list
'

test_expect_success 'payload: every program, 0755 root:root' '
	for p in /usr/bin/farmctl /usr/sbin/farm-fcgi /usr/sbin/farm-eventd /usr/sbin/farm-wsd; do
		test_equal "$(field $p 1) $(field $p 3):$(field $p 4)" "-rwxr-xr-x root:root" || return 1
	done &&
	if [ -e "$SRC_DIR/fcgi/farm-runner/farm-runner.c" ]; then
		test_equal "$(field /usr/sbin/farm-runner 1)" -rwxr-xr-x
	else
		test -z "$(qlv /usr/sbin/farm-runner)"
	fi
'

test_expect_success 'payload: /etc/farm 0750 root:farm, farm.conf 0640 root:farm' '
	test_equal "$(field /etc/farm 1) $(field /etc/farm 3):$(field /etc/farm 4)" "drwxr-x--- root:farm" &&
	f=/etc/farm/farm.conf &&
	test_equal "$(field $f 1) $(field $f 3):$(field $f 4)" "-rw-r----- root:farm"
'

test_expect_success 'payload: /var/lib/farm 0700 farm:farm; /run/farm 0750 farm:nginx' '
	test_equal "$(field /var/lib/farm 1) $(field /var/lib/farm 3):$(field /var/lib/farm 4)" \
		"drwx------ farm:farm" &&
	test_equal "$(field /run/farm 1) $(field /run/farm 3):$(field /run/farm 4)" "drwxr-x--- farm:nginx"
'

test_expect_success 'payload: units, sysusers.d, tmpfiles.d, nginx drop-ins, man pages, docs' '
	for p in /usr/lib/systemd/system/farm.service /usr/lib/systemd/system/farm.socket \
		/usr/lib/systemd/system/farm-eventd.service /usr/lib/systemd/system/farm-wsd.service \
		/usr/lib/sysusers.d/farm.conf /usr/lib/tmpfiles.d/farm.conf \
		/etc/nginx/conf.d/farm.conf /etc/nginx/default.d/farm.conf /etc/nginx/farm-fastcgi.conf; do
		test -n "$(qlv $p)" || { echo "missing $p"; return 1; }
	done &&
	for m in man5/farm.conf.5 man8/farmctl.8 man8/farm-fcgi.8 man8/farm-eventd.8 man8/farm-wsd.8; do
		grep -q " /usr/share/man/$m\(\.gz\)\?$" payload || { echo "missing $m"; return 1; }
	done &&
	grep -q "/usr/share/doc/farm[^/]*/operations.md$" payload &&
	{ [ ! -e "$SRC_DIR/fcgi/farm-runner/farm-runner.c" ] || test -n "$(qlv /usr/lib/systemd/system/farm-runner.service)"; }
'

test_expect_success 'payload: the units and drop-ins point at the packaged paths' '
	cp "$RPM" payload.rpm && rpm2archive payload.rpm && mkdir -p x && tar -xzf payload.rpm.tgz -C x &&
	test_grep "^ExecStart=/usr/sbin/farm-fcgi$" x/usr/lib/systemd/system/farm.service &&
	test_grep "^ListenStream=/run/farm/farm.sock$" x/usr/lib/systemd/system/farm.socket &&
	test_grep "^SocketGroup=nginx$" x/usr/lib/systemd/system/farm.socket &&
	test_grep "server unix:/run/farm/farm.sock;" x/etc/nginx/conf.d/farm.conf &&
	test_grep "include /etc/nginx/farm-fastcgi.conf;" x/etc/nginx/default.d/farm.conf &&
	test_grep "^state_dir = /var/lib/farm$" x/etc/farm/farm.conf &&
	test_grep "^d /run/farm 0750 farm nginx -$" x/usr/lib/tmpfiles.d/farm.conf &&
	! grep -rn "@[A-Z_]*@" x/etc x/usr/lib/systemd x/usr/lib/sysusers.d x/usr/lib/tmpfiles.d
'

test_expect_success 'payload: the OpenAPI document in /usr/share/farm, 0644, served by the drop-in' '
	test -n "$(qlv /usr/share/farm/openapi.json)" &&
	qlv /usr/share/farm/openapi.json | grep -q "^-rw-r--r-- .* root \+root " &&
	cmp x/usr/share/farm/openapi.json "$SRC_DIR/docs/openapi.json" &&
	test_grep "alias /usr/share/farm/openapi.json;" x/etc/nginx/default.d/farm.conf
'

test_expect_success 'the packaged binaries run (farm-fcgi -h, farmctl config keys)' '
	x/usr/sbin/farm-fcgi -h >h.out && test_grep "usage: farm-fcgi" h.out &&
	x/usr/bin/farmctl config keys >k.out && test_grep "^state_dir = /var/lib/farm" k.out
'

test_expect_success 'config files: farm.conf and the nginx drop-ins, noreplace; nothing else' '
	rpm -qp --configfiles "$RPM" >config.list 2>/dev/null &&
	sort config.list >config.sorted &&
	printf "%s\n" /etc/farm/farm.conf /etc/nginx/conf.d/farm.conf /etc/nginx/default.d/farm.conf \
		/etc/nginx/farm-fastcgi.conf /etc/nginx/farm-stream.conf | sort >config.expected &&
	test_cmp config.expected config.sorted &&
	rpm -qp --qf "[%{FILEFLAGS:fflags} %{FILENAMES}\n]" "$RPM" >fflags 2>/dev/null &&
	for f in $(cat config.expected); do
		grep -q "^cn $f$" fflags || { echo "$f is not %config(noreplace):"; grep " $f$" fflags; return 1; }
	done &&
	grep -q "^g /run/farm$" fflags
'

test_expect_success 'scriptlets: %pre creates the farm user (sysusers or useradd fallback)' '
	rpm -qp --scripts "$RPM" >scripts 2>/dev/null &&
	sed -n "/^preinstall scriptlet/,/^postinstall scriptlet/p" scripts >pre &&
	{ grep -q "useradd .* farm" pre || grep -q "systemd-sysusers" pre; } &&
	grep -q "nologin" pre
'

test_expect_success 'scriptlets: %post creates /run/farm, a JWT secret, presets the units' '
	sed -n "/^postinstall scriptlet/,/^preuninstall scriptlet/p" scripts >post &&
	test_grep "systemd-tmpfiles --create /usr/lib/tmpfiles.d/farm.conf" post &&
	test_grep "/etc/farm/jwt_secret" post &&
	grep -qE "preset|systemd-update-helper install-system-units" post &&
	for u in farm.socket farm.service farm-eventd.service farm-wsd.service; do
		test_grep "$u" post || return 1
	done
'

test_expect_success 'scriptlets: %preun disables on erase; %postun restarts services, not the socket' '
	sed -n "/^preuninstall scriptlet/,/^postuninstall scriptlet/p" scripts >preun &&
	grep -qE "disable --now|systemd-update-helper remove-system-units" preun &&
	test_grep "farm.socket" preun &&
	sed -n "/^postuninstall scriptlet/,\$p" scripts >postun &&
	grep -E "try-restart|mark-restart-system-units" postun >restart &&
	test_grep "farm.service" restart &&
	test_no_grep "farm.socket" restart
'

test_expect_success 'dependencies: nginx-filesystem, the libraries by soname' '
	rpm -qpR "$RPM" >requires 2>/dev/null &&
	test_grep "^nginx-filesystem" requires &&
	test_grep "^libdb-5.3.so" requires &&
	test_grep "^libfcgi.so" requires &&
	test_grep "^libzmq.so" requires
'

test_done
