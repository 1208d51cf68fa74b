#!/bin/sh
# The translation catalogs, with GNU gettext's tools (Debian: gettext; the XML rules come with appstream and
# polkit's: Debian 12's polkitd, Debian 13's libpolkit-gobject-1-dev).
#
#   sh po/catalogs.sh pot [FILE]   extract the messages of po/POTFILES into FILE (default po/passim.pot)
#   sh po/catalogs.sh update       the same into po/passim.pot, then merge it into every po/LL.po
#   sh po/catalogs.sh build DIR    compile every po/LL.po into DIR/locale/LL/LC_MESSAGES/passim.mo, and
#                                  merge the translations into DIR/data/org.freedesktop.passim.policy and
#                                  DIR/data/org.freedesktop.Passim.metainfo.xml
#
# xgettext 0.21 has no TypeScript parser; its JavaScript parser reads our .ts files (type annotations do
# not confuse it), and test/translations.test.js checks that every _() and N_() message reached the .pot.
set -eu
cd "$(dirname "$0")/.."

fail() {
    echo "catalogs.sh: $*" >&2
    exit 1
}

command -v msgfmt >/dev/null || fail "msgfmt not found: install GNU gettext (apt-get install gettext)"

# The lines of a po/ list file, without comments and blank lines.
list() {
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "po/$1"
}

# xgettext with what every extraction shares; the arguments are its own. Locations name the file only, so
# that passim.pot changes when messages do, not whenever a line moves.
extract() {
    xgettext --from-code=UTF-8 --add-comments=TRANSLATORS: --add-location=file --package-name=passim \
        --package-version="$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' package.json)" \
        --copyright-holder="The Passim developers" --msgid-bugs-address=https://github.com/hughsie/passim/issues "$@"
}

pot() {
    # shellcheck disable=SC2046 # one word per file name; none has a space
    extract --language=JavaScript --keyword --keyword=_ --keyword=N_ -o "$1" $(list POTFILES | grep '\.ts$')
    # shellcheck disable=SC2046
    extract --join-existing -o "$1" $(list POTFILES | grep -v '\.ts$')
}

case ${1:-} in
pot)
    pot "${2:-po/passim.pot}"
    ;;
update)
    pot po/passim.pot
    for lang in $(list LINGUAS); do
        msgmerge --quiet --update --backup=none "po/$lang.po" po/passim.pot
    done
    ;;
build)
    [ $# -eq 2 ] || fail "usage: sh po/catalogs.sh build DIR"
    out=$2
    for lang in $(list LINGUAS); do
        mkdir -p "$out/locale/$lang/LC_MESSAGES"
        msgfmt --check -o "$out/locale/$lang/LC_MESSAGES/passim.mo" "po/$lang.po"
    done
    mkdir -p "$out/data"
    msgfmt --xml -d po --template polkit/org.freedesktop.passim.policy.in -o "$out/data/org.freedesktop.passim.policy" ||
        fail "cannot merge the polkit policy (no /usr/share/gettext/its/polkit.its: Debian 12's polkitd or 13's libpolkit-gobject-1-dev has it)"
    msgfmt --xml -d po --template data/org.freedesktop.Passim.metainfo.xml.in -o "$out/data/org.freedesktop.Passim.metainfo.xml"
    ;;
*)
    fail "usage: sh po/catalogs.sh pot [FILE] | update | build DIR"
    ;;
esac
