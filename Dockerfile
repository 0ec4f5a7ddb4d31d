# syntax=docker/dockerfile:1.4
#
# ferserve container image: a Debian bookworm build stage and a slim,
# non-root runtime stage with only the runtime libraries, the verified
# face-api weights, the PFT model bundle and a grpc.health.v1 probe.
#
# CPU image (Debian's LibTorch 1.13 on OpenBLAS):
#   docker build -t ferserve .
#
# GPU image on the official CUDA LibTorch (C++ cxx11 ABI, "shared with deps"
# zip from the PyTorch download page) for CUDA 11.8, the CUDA toolkit Debian
# bookworm packages (LibTorch's CMake package needs a toolkit of its own CUDA
# version to configure against), e.g.
# libtorch-cxx11-abi-shared-with-deps-2.7.1+cu118.zip. The archive is not
# downloaded by this file: put it in a folder and pass that folder as the
# build context named "libtorch" (BuildKit):
#   docker build --build-arg LIBTORCH=cuda \
#     --build-context libtorch=/path/to/folder-with-the-zip -t ferserve:cuda .
#   docker run --gpus all ferserve:cuda --device=cuda
# The zip bundles the CUDA runtime, cuBLAS and cuDNN; the host needs only
# the NVIDIA driver and container toolkit.
#
# Run:
#   docker run -p 50051:50051 -p 9464:9464 ferserve
#   docker run ferserve --store=redis://redis:6379/0 --store_key_file=/run/secrets/store.key
# Arguments after the image name are ferserve flags (see ferserve --help).

ARG LIBTORCH=debian

# ---------------------------------------------------------------------------
# Build tools and libraries (all from Debian; the same list as scripts/setup).
FROM debian:bookworm AS build-base
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates openssl \
      libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc \
      libopencv-dev libabsl-dev prometheus-cpp-dev nlohmann-json3-dev \
      librocksdb-dev libhiredis-dev libssl-dev zlib1g-dev nodejs npm \
 && rm -rf /var/lib/apt/lists/*

# Debian's LibTorch (CPU) and OpenBLAS.
FROM build-base AS torch-debian
RUN apt-get update \
 && apt-get install -y --no-install-recommends libtorch-dev libopenblas0-pthread \
 && rm -rf /var/lib/apt/lists/*

# The official CUDA LibTorch, from the archive the builder supplies, and
# Debian's CUDA toolkit (non-free), without which LibTorch's CMake package
# refuses to configure ("Your installed Caffe2 version uses CUDA but I cannot
# find the CUDA libraries").
FROM build-base AS torch-cuda
RUN sed -i 's/^Components: main$/Components: main contrib non-free/' \
      /etc/apt/sources.list.d/debian.sources \
 && apt-get update \
 && apt-get install -y --no-install-recommends unzip nvidia-cuda-toolkit \
 && rm -rf /var/lib/apt/lists/*
COPY --from=libtorch libtorch-*.zip /tmp/libtorch/
RUN unzip -q /tmp/libtorch/libtorch-*.zip -d /opt && rm -rf /tmp/libtorch
ENV Torch_DIR=/opt/libtorch/share/cmake/Torch

# ---------------------------------------------------------------------------
FROM torch-${LIBTORCH} AS build
WORKDIR /src
# Pinned npm packages with the pretrained weights, each tarball checked
# against its published sha512 integrity (the only download).
ENV FERSERVE_ASSETS=/opt/ferserve/assets
COPY scripts/fetch_assets scripts/fetch_assets
RUN scripts/fetch_assets
COPY CMakeLists.txt ./
COPY proto proto
COPY lib lib
COPY server server
COPY client client
COPY scripts scripts
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DFERSERVE_BUILD_TESTS=OFF \
      -DFERSERVE_ASSETS_DIR=/opt/ferserve/assets \
 && cmake --build build --target ferserve fer-health-probe \
 && strip build/server/ferserve build/client/fer-health-probe
# The PFT model bundle that Adapt serves (pre-trained on the assets, which
# are under FERSERVE_ASSETS here, not in the source tree's third_party/).
RUN FERSERVE_ASSETS_DIR="$FERSERVE_ASSETS" BUILD_DIR=build bash scripts/pft_bundle \
 && install -D -m 0644 build/pft/face_api_bundle.fpb /opt/ferserve/pft/face_api_bundle.fpb

# ---------------------------------------------------------------------------
# Runtime libraries only: what ferserve and the probe link, and their
# dependencies (tests/deploy/dockerfile_test.sh checks the list against the
# binaries).
FROM debian:bookworm-slim AS runtime-base
ENV DEBIAN_FRONTEND=noninteractive
ARG RUNTIME_PACKAGES="libabsl20220623 libgrpc++1.51 libgrpc29 libprotobuf32 libhiredis0.14 librocksdb7.8 libssl3 libprometheus-cpp-core1.0 libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406 libstdc++6"
RUN apt-get update \
 && apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/*

FROM runtime-base AS runtime-debian
RUN apt-get update \
 && apt-get install -y --no-install-recommends libtorch1.13 libopenblas0-pthread \
 && update-alternatives --set libblas.so.3-x86_64-linux-gnu \
      /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 \
 && update-alternatives --set liblapack.so.3-x86_64-linux-gnu \
      /usr/lib/x86_64-linux-gnu/openblas-pthread/liblapack.so.3 \
 && rm -rf /var/lib/apt/lists/*

FROM runtime-base AS runtime-cuda
# The toolkit's CUDA runtime and NVTX, which the CMake package links next to
# LibTorch's own libraries.
RUN sed -i 's/^Components: main$/Components: main contrib non-free/' \
      /etc/apt/sources.list.d/debian.sources \
 && apt-get update \
 && apt-get install -y --no-install-recommends libcudart11.0 libnvtoolsext1 \
 && rm -rf /var/lib/apt/lists/*
# Where the build linked it (the binary's RPATH points here).
COPY --from=torch-cuda /opt/libtorch/lib /opt/libtorch/lib
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility

# ---------------------------------------------------------------------------
FROM runtime-${LIBTORCH}
RUN groupadd --system --gid 10001 ferserve \
 && useradd --system --uid 10001 --gid ferserve --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin ferserve \
 && install -d -o ferserve -g ferserve -m 0750 /var/lib/ferserve /var/lib/ferserve/profiles
COPY --from=build /src/build/server/ferserve /usr/local/bin/ferserve
COPY --from=build /src/build/client/fer-health-probe /usr/local/bin/fer-health-probe
# Only the weights: the demo photos and test videos stay in the build stage.
COPY --from=build /opt/ferserve/assets/face-api/model /opt/ferserve/assets/face-api/model
COPY --from=build /opt/ferserve/pft /opt/ferserve/pft
USER 10001:10001
WORKDIR /var/lib/ferserve
EXPOSE 50051 9464
VOLUME ["/var/lib/ferserve/profiles"]
# SERVING through grpc.health.v1; NOT_SERVING while draining after SIGTERM.
# Assumes the default --port=50051.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/fer-health-probe", "--addr=127.0.0.1:50051", "--quiet"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ferserve", "--pft_bundle=/opt/ferserve/pft/face_api_bundle.fpb"]
CMD ["--store=rocksdb:///var/lib/ferserve/profiles"]
