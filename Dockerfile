# vipfs in a container. FUSE needs the host's device and the mount capability:
#   docker build -t vipfs .
#   docker run --rm -it --device /dev/fuse --cap-add SYS_ADMIN vipfs demo
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      fuse3 libfuse3-dev pkg-config gcc \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY setup.cfg pyproject.toml README.md ./
COPY vipfs ./vipfs
RUN pip install --no-cache-dir . \
 && apt-get purge -y gcc libfuse3-dev pkg-config && apt-get autoremove -y

ENTRYPOINT ["vipfs"]
CMD ["--help"]
