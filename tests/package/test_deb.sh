#!/usr/bin/env bash
# The Debian package, built and installed the way a user would:
#  1. the source tree (git ls-files: tracked and new files, no build output) is
#     copied to a temporary directory, and dpkg-buildpackage -us -uc -b runs
#     there (the source tree is never built in, and is checked to stay clean);
#  2. lintian on the .changes: any E: fails;
#  3. the .deb's contents (binary, man page, docs, the completions when the
#     tree has them) and control fields (Depends, Recommends);
#  4. a bare Debian root (debootstrap --variant=minbase, the host's release and
#     mirror) gets the .deb with dpkg -i and its dependencies with
#     apt-get -f install: no compiler, no -dev package. There, netwhy --version,
#     netwhy link -j (the same JSON as ip -j link, once the Recommends are
#     installed) and netwhy ports run. /proc is mounted in a mount namespace
#     of the test's own (unshare), so the mount ends with it, whatever happens.
# Needs root for the chroot (and to install missing tools with
# scripts/bootstrap --package) and the network for debootstrap and apt.
# Exit 77 (skip) without them, except under CI=true. NETWHY_PACKAGE_KEEP=1
# keeps the temporary directory. DEB_BUILD_OPTIONS passes through (unset:
# parallel=$(nproc)).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
t0=$SECONDS
say() { printf 'test_deb [%4ss] %s\n' "$((SECONDS - t0))" "$*"; }
fail() { printf 'test_deb: FAIL: %s\n' "$*" >&2; exit 1; }
skip() {
  if [ "${CI:-}" = true ]; then fail "$* (CI=true: no skipping)"; fi
  printf 'test_deb: SKIP: %s\n' "$*" >&2; exit 77
}

[ "$(id -u)" -eq 0 ] || skip "needs root: the chroot, and installing what is missing"
command -v git >/dev/null && [ -e "$src/.git" ] || skip "needs a git checkout to list the source files"
tools_missing=0
for p in dpkg-dev debhelper fakeroot lintian debootstrap; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || tools_missing=1
done
if [ "$tools_missing" = 1 ]; then
  say "installing what dpkg-buildpackage and this test need: scripts/bootstrap --package"
  "$src/scripts/bootstrap" --package
fi

# The source tree's state, to compare at the end (build dirs and bytecode aside).
tree_state() {
  git -C "$src" status --porcelain --ignored | grep -v -E '^!! (build[^/]*/|(.*/)?__pycache__/|.*\.pyc$)' || true
}
state_before=$(tree_state)

version=$(sed -n "s/^ *version *: *'\([^']*\)'.*/\1/p" "$src/meson.build" | head -1)
arch=$(dpkg --print-architecture)
[ -n "$version" ] || fail "no version in meson.build"
changelog_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[ "$changelog_version" = "$version" ] || fail "debian/changelog is $changelog_version, meson.build says $version"

work=$(mktemp -d "${TMPDIR:-/tmp}/netwhy-deb.XXXXXX")
root=$work/root
cleanup() {
  local m
  # The chroot's mounts live in unshare's namespace and end with it; this is
  # for a mount that got out anyway: lazily unmounted, deepest first, before
  # anything is removed (rm stays on this file system in any case).
  for m in $(findmnt -rn -o TARGET | grep -F "$work/" | sort -r); do umount -l "$m" || true; done
  if [ "${NETWHY_PACKAGE_KEEP:-}" = 1 ]; then
    echo "test_deb: kept $work" >&2
  else
    rm -rf --one-file-system "$work"
  fi
}
trap cleanup EXIT

# 1. Build in a copy of the tree.
tree=$work/netwhy-$version
mkdir -p "$tree"
(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
  (cd "$src" && while IFS= read -r -d '' f; do
     if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi  # a file deleted but not yet committed: gone
   done) |
  (cd "$src" && xargs -0 cp -P --parents -t "$tree")
say "building in $tree: dpkg-buildpackage -us -uc -b"
# CI=true is upstream's CI's switch (skips become failures); a package build
# is not that CI, so it does not see it.
if ! (cd "$tree" && env -u CI DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-parallel=$(nproc)}" \
        dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
  tail -n 60 "$work/build.log" >&2
  fail "dpkg-buildpackage failed (the log's end above)"
fi
deb=$work/netwhy_${version}_${arch}.deb
changes=$work/netwhy_${version}_${arch}.changes
[ -f "$deb" ] && [ -f "$changes" ] || fail "no $(basename "$deb") or $(basename "$changes") in $work"
say "built $(basename "$deb"), $(stat -c %s "$deb") bytes"
grep -q -- '--suite unit' "$work/build.log" || say "note: the build ran no unit tests (nocheck?)"

# 2. lintian: everything it says is shown; an error fails.
lintian_out=$(lintian --display-info "$changes" 2>&1 | grep -v 'running with root privileges' || true)
printf '%s\n' "${lintian_out:-lintian: no tags}"
if printf '%s\n' "$lintian_out" | grep -q '^E:'; then fail "lintian reports errors"; fi
say "lintian: no errors"

# 3. Contents and control fields.
contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
has() { printf '%s\n' "$contents" | grep -q -E "^\./$1\$" || fail "$(basename "$deb") has no /$1"; }
has usr/bin/netwhy
has 'usr/share/man/man1/netwhy\.1\.gz'
has usr/share/doc/netwhy/copyright
has 'usr/share/doc/netwhy/changelog\.gz'
has 'usr/share/doc/netwhy/README\.md(\.gz)?'
has 'usr/share/doc/netwhy/json\.md(\.gz)?'
if [ -f "$src/docs/netwhy.schema.json" ]; then has 'usr/share/doc/netwhy/netwhy\.schema\.json(\.gz)?'; fi
if [ -f "$src/completions/meson.build" ]; then
  has usr/share/bash-completion/completions/netwhy
  has usr/share/zsh/vendor-completions/_netwhy
  has 'usr/share/fish/vendor_completions\.d/netwhy\.fish'
fi
depends=$(dpkg-deb -f "$deb" Depends)
recommends=$(dpkg-deb -f "$deb" Recommends)
for d in libc6 libstdc++6 libnl-3-200 libfmt9 libnftables1; do
  [[ ", $depends," == *", $d "* || ", $depends," == *", $d,"* ]] || fail "Depends lacks $d: $depends"
done
for r in iproute2 nftables iptables netbase; do
  [[ ", $recommends," == *", $r,"* || ", $recommends," == *", $r "* ]] || fail "Recommends lacks $r: $recommends"
done
say "contents and fields: ok (Depends: $depends; Recommends: $recommends)"

# 4. A bare Debian root of this host's release, from this host's mirror.
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || fail "no VERSION_CODENAME in /etc/os-release"
mirror=$(
  { cat /etc/apt/sources.list.d/*.sources 2>/dev/null; echo; } |
    awk -v rel="$codename" 'BEGIN { RS = ""; FS = "\n" }
      { uri = ""; deb = 0; suite = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:.*(^|[ \t])deb([ \t]|$)/) deb = 1
          if ($i ~ "^Suites:.*[ \t]" rel "([ \t]|$)") suite = 1
          if ($i ~ /^URIs:/) { split($i, w, /[ \t]+/); uri = w[2] }
        }
        if (deb && suite && uri != "") { print uri; exit } }'
)
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | sed -E 's/\[[^]]*\]//' |
    awk -v rel="$codename" '$1 == "deb" && $3 == rel { print $2; exit }')
fi
mirror=${mirror:-http://deb.debian.org/debian}
say "debootstrap --variant=minbase $codename from $mirror"
if ! debootstrap --variant=minbase "$codename" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 20 "$work/debootstrap.log" >&2
  if ! getent hosts "$(echo "$mirror" | sed -E 's#^[a-z]+://([^/:]+).*#\1#')" >/dev/null; then
    skip "debootstrap failed and $mirror does not resolve: no network?"
  fi
  fail "debootstrap failed (its log's end above)"
fi
say "debootstrap done ($(du -sm "$root" | cut -f1) MB)"
cp "$deb" "$root/tmp/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"  # no daemon starts from a postinst
chmod +x "$root/usr/sbin/policy-rc.d"

in_root() {  # runs sh -c "$1" in the chroot, with its own /proc in a mount namespace of its own
  unshare --mount --propagation private -- chroot "$root" /usr/bin/env -i \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    /bin/sh -ec "mount -t proc proc /proc; $1"
}
debname=$(basename "$deb")
in_root "dpkg -i /tmp/$debname >/dev/null 2>&1 || true  # its libraries are not there yet
         apt-get update -qq
         apt-get -f install -y -qq -o Dpkg::Use-Pty=0 >/dev/null" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log" >&2; fail "dpkg -i and apt-get -f install in the chroot failed"; }
status=$(in_root "dpkg-query -W -f='\${Status}' netwhy")
[ "$status" = "install ok installed" ] || fail "netwhy in the chroot: $status"
build_tools=$(in_root "dpkg-query -W -f='\${Package} \${Status}\n' g++ gcc meson ninja-build libnl-3-dev libfmt-dev libnftables-dev 2>/dev/null | grep ' installed\$' || true")
[ -z "$build_tools" ] || fail "the chroot has build tools, so it proves nothing: $build_tools"
say "installed in the chroot with its Depends only: $(in_root "dpkg-query -W -f='\${Package}\n' | wc -l") packages, no compiler, no -dev package"

got=$(in_root "netwhy --version")
[ "$got" = "netwhy $version" ] || fail "netwhy --version in the chroot printed \"$got\""
in_root "netwhy link -j" | python3 -c 'import json, sys; assert any(l["ifname"] == "lo" for l in json.load(sys.stdin))' ||
  fail "netwhy link -j in the chroot: no JSON list with lo"
ports=$(in_root "netwhy ports") || fail "netwhy ports in the chroot failed"
[[ "$ports" == Proto* ]] || fail "netwhy ports in the chroot printed no table: $ports"
say "netwhy --version, link -j and ports run in the chroot"

# The Recommends install there too; with iproute2, link -j is ip -j link's JSON.
# Other work on this host may add or remove a link between the two commands: three tries.
in_root "apt-get install -y -qq --no-install-recommends -o Dpkg::Use-Pty=0 ${recommends//,/} >/dev/null" >"$work/apt-recommends.log" 2>&1 ||
  { cat "$work/apt-recommends.log" >&2; fail "the Recommends ($recommends) don't install in the chroot"; }
same=0
for _ in 1 2 3; do
  in_root "netwhy link -j" >"$work/netwhy-link.json"
  in_root "ip -j link" >"$work/ip-link.json"
  if python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
       "$work/netwhy-link.json" "$work/ip-link.json"; then same=1; break; fi
  sleep 1
done
[ "$same" = 1 ] || { diff <(python3 -m json.tool "$work/ip-link.json") <(python3 -m json.tool "$work/netwhy-link.json") >&2 || true
                     fail "netwhy link -j differs from ip -j link in the chroot"; }
in_root "netwhy ports" >/dev/null || fail "netwhy ports with the Recommends installed failed"
say "with the Recommends: netwhy link -j = ip -j link; netwhy ports runs"

[ "$(tree_state)" = "$state_before" ] || fail "the source tree changed: $(diff <(echo "$state_before") <(tree_state))"
say "the source tree is as it was; done"
