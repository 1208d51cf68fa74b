#!/bin/sh
# Installs passim from a built checkout (run `npm ci` first, which also compiles TypeScript into dist/).
#
# Usage, from the top of the checkout:
#   sh data/install.sh                               # into / with PREFIX=/usr (as root)
#   DESTDIR=/tmp/stage PREFIX=/usr sh data/install.sh  # into a staging tree, for packagers
#
# Variables (all optional):
#   DESTDIR     staging root prepended to every path (default: empty)
#   PREFIX      installation prefix (default: /usr)
#   SYSCONFDIR  configuration folder (default: /etc); an existing passim.conf there is kept
#   NODE        Node.js 20+ the launchers run (default: the `node` on PATH now, as an absolute path)
#
# Layout: the code and its production node_modules in $PREFIX/lib/passim; launchers
# $PREFIX/libexec/passimd and $PREFIX/bin/passimctl; apt's method $PREFIX/lib/apt/methods/passim with
# $SYSCONFDIR/apt/apt.conf.d/50passim (kept if present); D-Bus policy, activation and interface files; the
# polkit policy and the rule letting _apt publish; the systemd unit and sysusers file; man pages; AppStream metainfo; icon; bash completion;
# a firewalld service and a ufw application profile; the translations in
# $PREFIX/share/locale/LL/LC_MESSAGES/passim.mo, also merged into the polkit policy and the metainfo
# (this needs GNU gettext's msgfmt: Debian's gettext package).
#
# After installing into / (no DESTDIR): `systemd-sysusers`, `systemctl daemon-reload`,
# `systemctl reload dbus`, then `systemctl enable --now passim`.
set -eu

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/usr}
SYSCONFDIR=${SYSCONFDIR:-/etc}
NODE=${NODE:-$(command -v node || true)}

cd "$(dirname "$0")/.."

fail() {
    echo "install.sh: $*" >&2
    exit 1
}

# Settings come from the environment only: an argument such as "--destdir X" would otherwise be ignored
# and everything installed into / instead.
[ $# -eq 0 ] || fail "unexpected argument '$1': settings are environment variables, e.g. DESTDIR=/tmp/stage PREFIX=/usr sh data/install.sh"

[ -n "$NODE" ] || fail "node not found on PATH; set NODE=/path/to/node"
case $NODE in /*) ;; *) fail "NODE must be an absolute path, not '$NODE'" ;; esac
case $PREFIX in /*) ;; *) fail "PREFIX must be an absolute path, not '$PREFIX'" ;; esac
[ -f dist/daemon/main.js ] && [ -f dist/ctl/main.js ] && [ -f dist/apt-method/main.js ] || fail "dist/ is not built: run 'npm ci' first"
[ -d node_modules/dbus-next ] || fail "node_modules/ is missing: run 'npm ci' first"
command -v msgfmt >/dev/null || fail "msgfmt not found: install GNU gettext (Debian: apt-get install gettext)"

pkglib=$DESTDIR$PREFIX/lib/passim
share=$DESTDIR$PREFIX/share

# file MODE SOURCE DESTINATION-FOLDER [NAME]
file() {
    mkdir -p "$3"
    install -m "$1" "$2" "$3/${4:-$(basename "$2")}"
}

# The code: the module compiled from each src/**/*.ts, in the same folders, into a fresh tree so that nothing from an older
# version or a stale build lingers. Source maps are left out because src/ is not installed.
rm -rf "$pkglib"
mkdir -p "$pkglib/dist"
for f in $(cd src && find . -name '*.ts' | sort); do
    module=dist/${f#./}
    module=${module%.ts}.js
    [ -f "$module" ] || fail "$module is missing: run 'npm run build'"
    file 0644 "$module" "$pkglib/$(dirname "$module")"
done
file 0644 package.json "$pkglib"
file 0644 package-lock.json "$pkglib"
# The daemon reads its introspection data from dbus/ next to dist/.
file 0644 dbus/org.freedesktop.Passim.xml "$pkglib/dbus"
file 0755 bin/passimd "$pkglib/bin"
file 0755 bin/passimctl "$pkglib/bin"
file 0755 bin/passim-apt-method "$pkglib/bin"

# The translations, compiled and merged here from po/ so that they always match the checkout.
catalogs=$(mktemp -d)
trap 'rm -rf "$catalogs"' EXIT
sh po/catalogs.sh build "$catalogs"
for mo in "$catalogs"/locale/*/LC_MESSAGES/passim.mo; do
    lang=${mo#"$catalogs/locale/"}
    lang=${lang%%/*}
    file 0644 "$mo" "$share/locale/$lang/LC_MESSAGES"
done
# The code finds the catalogs in dist/locale (src/shared/i18n.ts): here, the system's locale folder.
ln -s ../../../share/locale "$pkglib/dist/locale"

# Production dependencies: the checkout's node_modules, pruned of devDependencies. Copying keeps the
# native addons (usocket) that `npm ci` built, so installing needs neither a compiler nor the network.
cp -R node_modules "$pkglib/node_modules"
(cd "$pkglib" && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error >/dev/null)

# The native addon must load in the Node.js the launchers run, or passimd cannot pass descriptors (it
# refuses to start then). A Node.js of another ABI (process.versions.modules) needs "npm ci" run with it.
built_abi=$(node -p process.versions.modules 2>/dev/null || echo unknown)
if [ -x "$NODE" ]; then
    "$NODE" -e 'require(process.argv[1])' "$pkglib/node_modules/usocket" 2>/dev/null ||
        fail "$NODE (ABI $("$NODE" -p process.versions.modules 2>/dev/null || echo unknown)) cannot load the usocket addon built by this machine's node (ABI $built_abi): run 'npm ci' with the target's Node.js, or set NODE to a Node.js of ABI $built_abi"
else
    echo "install.sh: warning: cannot run $NODE here to check that it loads the usocket addon (built for Node.js ABI $built_abi)" >&2
fi

# Launchers. Each finds lib/passim next to its own folder (PREFIX/libexec and PREFIX/bin are siblings of
# PREFIX/lib), so the tree also runs from DESTDIR; the program name stays passimd or passimctl.
# $3: what comes before "$NODE" on the exec line (env NAME=VALUE ...), $4: Node.js options; passimd runs
# with those of data/passimd.options (see passimd(8), MEMORY).
launcher() {
    mkdir -p "$DESTDIR$PREFIX/$1"
    cat >"$DESTDIR$PREFIX/$1/$2" <<EOF
#!/bin/sh
# $2 of passim, installed by data/install.sh.
prefix=\$(dirname "\$(dirname "\$(readlink -f "\$0")")")
exec $3"$NODE" $4"\$prefix/lib/passim/bin/$2" "\$@"
EOF
    chmod 0755 "$DESTDIR$PREFIX/$1/$2"
}
options=$(grep -v -e '^#' -e '^$' data/passimd.options || true)
daemon_env=$(printf '%s\n' "$options" | grep -v '^-' | tr '\n' ' ' || true)
daemon_flags=$(printf '%s\n' "$options" | grep '^-' | tr '\n' ' ' || true)
launcher libexec passimd "${daemon_env:+env $daemon_env}" "$daemon_flags"
launcher bin passimctl '' ''
# apt's method: apt runs $PREFIX/lib/apt/methods/passim, four folders below PREFIX, as root; the program
# (bin/passim-apt-method) answers apt at once and becomes apt's sandbox user before Node.js starts.
mkdir -p "$DESTDIR$PREFIX/lib/apt/methods"
cat >"$DESTDIR$PREFIX/lib/apt/methods/passim" <<EOF
#!/bin/sh
# apt's passim acquire method (passim-apt(8)), installed by data/install.sh.
self=\$(readlink -f "\$0")
PASSIM_NODE="$NODE" exec "\${self%/lib/apt/methods/*}/lib/passim/bin/passim-apt-method" "\$@"
EOF
chmod 0755 "$DESTDIR$PREFIX/lib/apt/methods/passim"

# D-Bus and polkit.
file 0644 dbus/org.freedesktop.Passim.conf "$share/dbus-1/system.d"
file 0644 dbus/org.freedesktop.Passim.service "$share/dbus-1/system-services"
file 0644 dbus/org.freedesktop.Passim.xml "$share/dbus-1/interfaces"
file 0644 "$catalogs/data/org.freedesktop.passim.policy" "$share/polkit-1/actions"
# apt's sandbox user may publish what apt verified (passim-apt(8)).
file 0644 polkit/50-passim-apt.rules "$share/polkit-1/rules.d"

# systemd: the unit names /usr/libexec/passimd; follow PREFIX.
mkdir -p "$DESTDIR$PREFIX/lib/systemd/system"
sed "s|^ExecStart=/usr/libexec/|ExecStart=$PREFIX/libexec/|" systemd/passim.service \
    >"$DESTDIR$PREFIX/lib/systemd/system/passim.service"
chmod 0644 "$DESTDIR$PREFIX/lib/systemd/system/passim.service"
file 0644 systemd/passim.socket "$DESTDIR$PREFIX/lib/systemd/system"
file 0644 systemd/passim.sysusers.conf "$DESTDIR$PREFIX/lib/sysusers.d" passim.conf

# Documentation and desktop integration.
file 0644 man/passimctl.1 "$share/man/man1"
file 0644 man/passim.conf.5 "$share/man/man5"
file 0644 man/passimd.8 "$share/man/man8"
file 0644 man/passim-apt.8 "$share/man/man8"
file 0644 "$catalogs/data/org.freedesktop.Passim.metainfo.xml" "$share/metainfo"
file 0644 data/org.freedesktop.Passim.svg "$share/icons/hicolor/scalable/apps"
file 0644 data/passimctl.bash-completion "$share/bash-completion/completions" passimctl

# Firewall integration: opens exactly 27500/tcp (and, for firewalld, mDNS) where the administrator says.
file 0644 data/firewall/passim.xml "$DESTDIR$PREFIX/lib/firewalld/services"
file 0644 data/firewall/passim.ufw "$DESTDIR$SYSCONFDIR/ufw/applications.d" passim

# The commented default configuration; an administrator's edited copy is never overwritten.
if [ -e "$DESTDIR$SYSCONFDIR/passim.conf" ]; then
    echo "install.sh: keeping the existing $DESTDIR$SYSCONFDIR/passim.conf" >&2
else
    file 0644 data/passim.conf "$DESTDIR$SYSCONFDIR"
fi
# apt's http and https through passim's method; likewise kept when it exists.
if [ -e "$DESTDIR$SYSCONFDIR/apt/apt.conf.d/50passim" ]; then
    echo "install.sh: keeping the existing $DESTDIR$SYSCONFDIR/apt/apt.conf.d/50passim" >&2
else
    file 0644 data/apt/50passim "$DESTDIR$SYSCONFDIR/apt/apt.conf.d"
fi

echo "Installed passim into ${DESTDIR:-/} (PREFIX=$PREFIX, SYSCONFDIR=$SYSCONFDIR)"
