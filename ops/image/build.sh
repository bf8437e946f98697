#!/usr/bin/env bash
# Builds synthfarm's container image: the three programs and the dashboard on a Debian 12
# root file system made from Debian packages, holding the runtime libraries the programs
# link and nothing to build with. No base image is pulled from any registry.
#
#   ops/image/build.sh [--build DIR] [--out DIR] [--tag NAME:TAG] [--rootfs-only] [--fresh]
#
#   --build DIR     a configured and built build tree (default: build)
#   --out DIR       where everything goes (default: DIR/image of --build)
#   --tag NAME:TAG  the image's name (default: synthfarm:<version>, what ops/k8s/overlays/prod runs)
#   --rootfs-only   stop after the root file system and its tarball (no OCI image)
#   --fresh         make the Debian part again even if a cached one fits
#
# Steps:
#  1. `cmake --install --strip` stages the programs in OUT/stage/usr (bin/, share/synthfarm/web).
#     The LibTorch plugin (learned camera models, sensor/torch/) is left out: Debian's
#     libtorch1.13 depends on several hundred packages (OpenCV, Qt, FFmpeg, GDAL), some of
#     whose maintainer scripts cannot run in this Essential-less root file system. The
#     image's workers render every job without `sensor.model` and fail the shards of one
#     that names a model, saying why (docs/deploy.md, docs/sensor.md).
#  2. The Debian packages to install are those owning the libraries the programs name in
#     their NEEDED entries (objdump -p, dpkg -S), plus: tini (the init, ENTRYPOINT), dash
#     and findutils (the worker probe's /bin/sh and find), ca-certificates (HTTPS to S3),
#     base-files (/etc/os-release, which image scanners read) and base-passwd (/etc/passwd);
#     and what dpkg itself and the packages' maintainer scripts run (dpkg, coreutils, sed,
#     grep, diffutils, libc-bin, and perl-base for debconf: Debian's Essential packages,
#     which no package lists as a dependency). apt adds the dependencies; no -dev package,
#     no compiler.
#  3. mmdebstrap makes the Debian part from them (variant custom: no Essential set, no apt)
#     with the docs, man pages and locales left out (dpkg path-exclude; copyright files
#     stay). It is cached in OUT/cache by package set for 7 days (--fresh rebuilds it).
#  4. The programs go on top, with the user synthfarm (uid/gid 10001), the directories meant
#     to be volumes (/var/lib/synthfarm, /run/synthfarm; writable by that user, the rest of
#     the file system read-only to it), and apt's leftovers removed. Checks: no -dev package
#     or compiler; every library each program needs resolves inside (ld.so --list); each
#     program starts as uid 10001.
#  5. buildah commits it from `scratch` as an OCI image: OUT/oci (an OCI layout) and
#     OUT/synthfarm-image.tar (the same as an oci-archive, for `podman load`).
# At the end it prints the image's and the root file system's sizes and the packages that
# take the most room. Outputs: OUT/rootfs (the root file system), OUT/synthfarm-rootfs.tar,
# OUT/oci, OUT/synthfarm-image.tar, OUT/summary.txt.
#
# Needs root (mmdebstrap, chroot, buildah; CI and the tests run as root) and the Debian
# packages mmdebstrap, buildah and binutils (ops/setup.sh). The Debian mirror is the one
# this machine's apt uses (its sources files); SYNTHFARM_IMAGE_MIRROR (a mirror URL or a
# sources file) picks another.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=build
out=
tag=
rootfs_only=0
fresh=0
while (($#)); do
  case "$1" in
    --build) build=$2; shift ;;
    --out) out=$2; shift ;;
    --tag) tag=$2; shift ;;
    --rootfs-only) rootfs_only=1 ;;
    --fresh) fresh=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "image: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
build=$(cd "$build" && pwd)
out=${out:-$build/image}
mkdir -p "$out"
out=$(cd "$out" && pwd)
say() { echo "image: $*"; }
mib() { awk -v bytes="$1" 'BEGIN {printf "%.1f MiB", bytes / 1048576}'; }
die() { echo "image: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (mmdebstrap, chroot and buildah run as root)"
for tool in cmake objdump readelf dpkg mmdebstrap chroot; do
  command -v "$tool" >/dev/null || die "'$tool' not found; ops/setup.sh installs what the image needs"
done
((rootfs_only)) || command -v buildah >/dev/null || die "'buildah' not found; ops/setup.sh installs it"
version=$(sed -n 's/^project(synthfarm VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
tag=${tag:-synthfarm:$version}
started=$SECONDS

# ---- 1. the programs ----------------------------------------------------------------
stage=$out/stage
rm -rf "$stage"
cmake --install "$build" --prefix "$stage/usr" --strip >/dev/null
programs=(synthfarm synthfarm-coordinator synthfarm-worker)
for p in "${programs[@]}"; do
  [[ -x $stage/usr/bin/$p ]] || die "cmake --install put no $p in bin/: build the tree first"
done
[[ -f $stage/usr/share/synthfarm/web/index.html ]] || die "cmake --install put no dashboard in share/synthfarm/web"
rm -rf "$stage"/usr/lib/synthfarm "$stage"/usr/lib/*/synthfarm  # the LibTorch plugin: see step 1

# ---- 2. the packages ----------------------------------------------------------------
multiarch=$(gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH)
mapfile -t needed < <(for p in "${programs[@]}"; do objdump -p "$stage/usr/bin/$p" | awk '$1 == "NEEDED" {print $2}'; done | sort -u)
libraries=()
for soname in "${needed[@]}"; do
  owner=$(dpkg -S "*/$multiarch/$soname" 2>/dev/null | grep -v '^diversion' | head -1 | cut -d: -f1) || true
  [[ -n $owner ]] || die "no Debian package ships $soname (NEEDED by the programs): it cannot come from Debian's packages"
  libraries+=("$owner")
done
mapfile -t libraries < <(printf '%s\n' "${libraries[@]}" | sort -u)
# libjs-chart.js: the dashboard's charts, which the coordinator serves from the system.
extras=(tini dash findutils ca-certificates base-files base-passwd libjs-chart.js)
installer=(dpkg coreutils sed grep diffutils libc-bin perl-base)
mapfile -t packages < <(printf '%s\n' "${libraries[@]}" "${extras[@]}" "${installer[@]}" | sort -u)
say "libraries the programs link (${#needed[@]}) come from: ${libraries[*]}"

# ---- 3. the Debian part (cached) ----------------------------------------------------
mirrors=()
if [[ -n ${SYNTHFARM_IMAGE_MIRROR:-} ]]; then
  mirrors=("$SYNTHFARM_IMAGE_MIRROR")
else
  [[ $(. /etc/os-release && echo "${VERSION_CODENAME:-}") == bookworm ]] ||
    die "this machine is not Debian 12: set SYNTHFARM_IMAGE_MIRROR to a Debian 12 mirror"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && grep -q '^[^#]' "$f" && mirrors+=("$f")
  done
  ((${#mirrors[@]})) || die "this machine's apt has no sources; set SYNTHFARM_IMAGE_MIRROR"
fi
mmdebstrap_args=(
  --variant=custom --format=tar --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --include="$(IFS=,; echo "${packages[*]}")"
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/lintian/*'
)
# A mirror whose Release files are past their Valid-Until (a snapshot) needs what this
# machine's apt is told for it.
# (Read whole before grep: grep -q stops early, and apt-config's SIGPIPE would fail the
# pipeline now and then.)
apt_config=$(apt-config dump 2>/dev/null || true)
if grep -q '^Acquire::Check-Valid-Until "false";' <<<"$apt_config"; then
  mmdebstrap_args+=(--aptopt='Acquire::Check-Valid-Until "false"')
fi
key=$( (printf '%s\n' "${mmdebstrap_args[@]}"; for m in "${mirrors[@]}"; do [[ -f $m ]] && cat "$m" || echo "$m"; done) |
  sha256sum | cut -c1-16)
base=$out/cache/debian-$key.tar
mkdir -p "$out/cache"
if ((fresh)) || [[ ! -s $base ]] || [[ -n $(find "$base" -mtime +7) ]]; then
  say "mmdebstrap: Debian 12 with ${#packages[@]} packages and their dependencies (log: $out/mmdebstrap.log)"
  t0=$SECONDS
  rm -rf "$out"/cache/debian-*
  mmdebstrap "${mmdebstrap_args[@]}" bookworm "$base.part" "${mirrors[@]}" >"$out/mmdebstrap.log" 2>&1 ||
    { tail -20 "$out/mmdebstrap.log" >&2; die "mmdebstrap failed; see $out/mmdebstrap.log"; }
  mv "$base.part" "$base"
  say "mmdebstrap took $((SECONDS - t0)) s"
else
  say "Debian part from the cache: $base"
fi

# ---- 4. the root file system --------------------------------------------------------
rootfs=$out/rootfs
rm -rf "$rootfs"
mkdir "$rootfs"
tar -C "$rootfs" --numeric-owner -xpf "$base"
cp -a "$stage/usr/." "$rootfs/usr/"
echo 'synthfarm:*:10001:10001:synthfarm:/var/lib/synthfarm:/bin/false' >>"$rootfs/etc/passwd"
echo 'synthfarm:x:10001:' >>"$rootfs/etc/group"
# The only places the programs write: datasets and the CLI's config under the home
# directory (/var/lib/synthfarm), the worker's health file (/run/synthfarm). Mount
# volumes there when the root file system is read-only.
install -d -m 0755 -o 10001 -g 10001 "$rootfs/var/lib/synthfarm" "$rootfs/run/synthfarm"
install -d -m 0755 "$rootfs/etc/synthfarm"
# Mount points a runtime needs on a read-only root file system (base-files has most).
install -d -m 0755 "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/run"
install -d -m 1777 "$rootfs/tmp"
# apt is not in the image: its configuration, lists and caches (mmdebstrap's sources name
# the mirror it used) have no reader, nor do logs of the build, backup files or a copy of
# this machine's host name and resolver.
rm -rf "$rootfs/etc/apt" "$rootfs/var/lib/apt" "$rootfs/var/cache/apt" "$rootfs/var/log/"* \
  "$rootfs/var/cache/ldconfig/aux-cache" "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/cache/debconf/*-old \
  "$rootfs/etc/hostname" "$rootfs/etc/resolv.conf" "$rootfs/etc/machine-id"
: >"$rootfs/etc/hostname"

dpkg_query() { dpkg-query --admindir="$rootfs/var/lib/dpkg" "$@"; }
# Nothing to build with: no -dev package, no compiler, linker or build tool, no headers.
bad=$(dpkg_query -W -f='${Package}\n' |
  grep -E -- '-dev$|^(gcc|g\+\+|cpp|c\+\+|clang|llvm|binutils|make|cmake|ninja-build|pkg-config|pkgconf|libtool|autoconf|automake)(-[0-9.]+)?$' || true)
[[ -z $bad ]] || die "build-time packages in the image: $bad"
for f in cc c++ gcc g++ cpp clang ld as make cmake; do
  [[ ! -e $rootfs/usr/bin/$f ]] || die "the image has /usr/bin/$f"
done
headers=$(find "$rootfs/usr/include" -type f 2>/dev/null | head -3 || true)
[[ -z $headers ]] || die "the image has headers: ${headers//$rootfs/}"
# Every library each program needs resolves inside the image, and each program starts
# there as the image's user.
for p in "${programs[@]}"; do
  interpreter=$(readelf -l "$rootfs/usr/bin/$p" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
  if ! listed=$(chroot "$rootfs" "$interpreter" --list "/usr/bin/$p" 2>&1) || grep -q 'not found' <<<"$listed"; then
    die "$p cannot load in the image: $(grep -E 'not found|error' <<<"$listed" | tr -s ' \t\n' ' ')"
  fi
  chroot --userspec=10001:10001 "$rootfs" "/usr/bin/$p" --help >/dev/null 2>&1 ||
    die "$p --help fails in the image as uid 10001"
done
# tini the entrypoint; sh and find the worker probe's; install what ops/k8s's init containers
# copy the CURVE keys with.
for f in /usr/bin/tini /bin/sh /usr/bin/find /usr/bin/install /etc/ssl/certs/ca-certificates.crt /etc/os-release; do
  [[ -e $rootfs$f ]] || die "the image lacks $f"
done

tarball=$out/synthfarm-rootfs.tar
tar -C "$rootfs" --numeric-owner --sort=name -cf "$tarball.part" .
mv "$tarball.part" "$tarball"

# ---- 5. the OCI image ---------------------------------------------------------------
image_line="OCI image: not built (--rootfs-only)"
if ((!rootfs_only)); then
  storage=$out/buildah
  rm -rf "$storage" "$out/oci" "$out/synthfarm-image.tar"
  # Its own storage, vfs: no overlay mounts needed, nothing left in the machine's storage.
  bh=(buildah --root "$storage/root" --runroot "$storage/run" --storage-driver vfs)
  ctr=synthfarm-image-$$
  cleanup() { "${bh[@]}" rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$storage"; }
  trap cleanup EXIT
  if ! err=$("${bh[@]}" from --name "$ctr" scratch 2>&1 >/dev/null); then
    echo "image: buildah cannot work here: $err" >&2
    die "the root file system is in $tarball (an image can be made from it elsewhere: buildah from scratch; buildah add CTR $tarball /)"
  fi
  "${bh[@]}" add "$ctr" "$tarball" / >/dev/null
  # tini as PID 1 passes SIGTERM on to the program and reaps zombies. The programs need
  # nothing written outside the two volumes, so the root file system may be read-only.
  # The worker rewrites its health file in /run/synthfarm (docs/deploy.md, probes); OCI
  # images carry no health check, so the coordinator's /healthz is for the orchestrator.
  "${bh[@]}" config \
    --entrypoint '["/usr/bin/tini", "--"]' --cmd '["synthfarm", "--help"]' \
    --user 10001:10001 --workingdir /var/lib/synthfarm \
    --env PATH=/usr/sbin:/usr/bin:/sbin:/bin --env HOME=/var/lib/synthfarm \
    --env SYNTHFARM_HEALTH_FILE=/run/synthfarm/worker.alive \
    --volume /var/lib/synthfarm --volume /run/synthfarm \
    --port 8080/tcp --port 5555/tcp --port 5556/tcp --stop-signal SIGTERM \
    --os linux --arch "$(dpkg --print-architecture)" \
    --label org.opencontainers.image.title=synthfarm \
    --label "org.opencontainers.image.description=synthfarm coordinator, worker and CLI on Debian 12" \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    "$ctr"
  "${bh[@]}" commit --quiet --format oci --disable-compression=false --rm "$ctr" "oci:$out/oci:$tag" >/dev/null
  tar -C "$out/oci" --sort=name -cf "$out/synthfarm-image.tar" .
  cleanup
  trap - EXIT
  # The blobs are the gzipped layer, the config and the manifest: what a registry stores
  # and a node pulls. Unpacked, the image is the root file system's tarball.
  image_line="OCI image $tag: $(mib "$(du -sb "$out/oci/blobs" | cut -f1)") compressed, $(mib "$(stat -c %s "$tarball")") unpacked ($out/oci, $out/synthfarm-image.tar)"
fi

# ---- sizes --------------------------------------------------------------------------
{
  echo "$image_line"
  echo "root file system: $(mib "$(du -sb "$rootfs" | cut -f1)") in $(find "$rootfs" -type f | wc -l) files," \
    "$(dpkg_query -W -f='.\n' | wc -l) Debian packages ($rootfs)"
  echo "synthfarm itself: $(mib "$(cat "$rootfs"/usr/bin/synthfarm{,-coordinator,-worker} | wc -c)") (the three" \
    "programs, stripped), $(mib "$(du -sb "$rootfs/usr/share/synthfarm/web" | cut -f1)") (the dashboard)"
  echo "the 10 largest packages: dpkg's Installed-Size, and what their files take here after trimming (KiB)"
  mapfile -t largest < <(dpkg_query -W -f='${Installed-Size} ${Package}\n' | sort -rn | head -10)
  for line in "${largest[@]}"; do
    read -r size name <<<"$line"
    on_disk=$(dpkg_query -L "$name" | while read -r f; do
      if [[ -f $rootfs$f && ! -L $rootfs$f ]]; then echo "$rootfs$f"; fi
    done | xargs -r -d '\n' stat -c '%i %s' | awk '!seen[$1]++ {s += $2} END {printf "%d", s / 1024}')
    printf '  %8s  %8s  %s\n' "$size" "$on_disk" "$name"
  done
  echo "made in $((SECONDS - started)) s"
} | tee "$out/summary.txt"
