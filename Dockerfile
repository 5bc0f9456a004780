# zpfarm in a container: the same install.sh as README and CI.
#   docker build -t zpfarm .
#   docker run --rm -v zpfarm-cache:/root/.cache/zpfarm -v "$PWD/results:/zpfarm/results" zpfarm run
# Guests run under TCG unless you pass --device /dev/kvm (and KVM really works on the host).
FROM debian:12
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /zpfarm
COPY . .
RUN ./install.sh && rm -rf /var/lib/apt/lists/*
VOLUME ["/root/.cache/zpfarm"]
ENTRYPOINT ["/zpfarm/.venv/bin/zpfarm"]
CMD ["run", "--quiet"]
