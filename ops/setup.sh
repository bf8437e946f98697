#!/usr/bin/env bash
# Installs every Debian package synthfarm needs to build, test and run, skipping the
# ones already present. Safe to run again; needs root (or sudo) only when something is missing.
#
#   ops/setup.sh            build + runtime + test packages
#   ops/setup.sh --runtime  only what the quickstart needs (no browser)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  capnproto libcapnp-dev            # wire schemas
  libzmq3-dev cppzmq-dev            # telemetry transport
  libhiredis-dev redis-server       # queue (server used by quickstart and tests)
  libembree-dev libtbb-dev          # ray tracing, task scheduling
  libopenexr-dev libpng-dev zlib1g-dev
  libfmt-dev libspdlog-dev libcli11-dev
  libyaml-cpp-dev nlohmann-json3-dev libcpp-httplib-dev libssl-dev
  libcurl4-openssl-dev              # s3:// storage (HTTP client; SigV4 signing uses OpenSSL)
  libtinygltf-dev                   # glTF characters and scene export
  libjpeg62-turbo-dev               # the camera stage's JPEG (libjpeg-turbo)
  libtorch-dev libopenblas0-pthread # learned camera models (the reference BLAS is ~10x slower)
  libnanoflann-dev                  # scan fitting's nearest neighbours (k-d tree, header only)
  libgtest-dev libgmock-dev libexpected-dev
  libjs-chart.js                    # the dashboard's charts (served by the coordinator)
)
test_pkgs=(
  chromium chromium-driver          # dashboard browser tests (headless, WebDriver)
  python3
  python3-numpy python3-torch python3-openimageio python3-boto3 python3-pil python3-pytest  # python/ (synthfarm_data) and its tests
  universal-ctags                   # ops/code_size.py (file and function sizes)
  awscli                            # the independent S3 client of the S3 tests
  curl openssl                      # security tests: raw API calls, a test CA and certificates
  clang                             # libFuzzer with ASan and UBSan (fuzz/, bench/fuzz.sh)
  iproute2                          # the multi-host test and bench: network namespaces, veths, a bridge, ss
  mmdebstrap buildah                # the container image (ops/image/build.sh) and its test
  slurm-wlm munge                   # the cluster tests: slurmctld, slurmd, sbatch & co., munged
  libfaketime                       # fence_chaos_test: a worker's wall clock stepped by hours
  python3-open3d                    # bench/tsdf_fusion's peer (about 36 MB, 20 s to install)
  prometheus                        # promtool: checks /metrics and the Grafana dashboard's queries (the server is not run)
)
# s3rver (the S3 test server, ops/s3rver) and the Kubernetes manifests' checks
# (ops/k8s/validate) run on Node.js; use an npm already installed. kubectl is not
# installed: ops/k8s/tools.sh unpacks Debian's kubernetes-client into ops/k8s/.tools/.
command -v npm >/dev/null 2>&1 || test_pkgs+=(nodejs npm)

want=("${build_pkgs[@]}")
[[ "${1:-}" == "--runtime" ]] || want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#want[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
