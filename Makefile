# Developer entry points. The README's quick start is `make run` and `make test`.
BUILD_DIR ?= build
ASAN_BUILD_DIR ?= build-asan
JOBS ?= $(shell nproc)
SETUP_STAMP := $(BUILD_DIR)/.setup-done

.PHONY: all setup build run test test-asan test-vm deb bench format clean

all: build

# scripts/setup is idempotent; the stamp only saves its dpkg queries on every make call.
$(SETUP_STAMP): scripts/setup
	bash scripts/setup
	@mkdir -p $(BUILD_DIR) && touch $@

setup: $(SETUP_STAMP)

$(BUILD_DIR)/CMakeCache.txt: $(SETUP_STAMP)
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Foreground daemon in dev mode: state under ./.paddock, API on http://127.0.0.1:7070.
# `make run GPUS=dgx-a100-80gb` shows a machine from tests/fixtures/machines/ through the test
# NVML library instead of the host's GPUs (see docs/gpu.md).
run: build
	$(if $(GPUS),PADDOCK_NVML_MOCK=$(CURDIR)/tests/fixtures/machines/$(GPUS).json) \
	  $(BUILD_DIR)/bin/paddockd --dev $(if $(GPUS),--config tests/fixtures/dev-gpus.toml)

test: build deb
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The same suite built with AddressSanitizer + UndefinedBehaviorSanitizer (the packaged-install
# and VM tests are left out there: they exercise the .deb and the VM, not the sanitizer build).
test-asan: $(SETUP_STAMP)
	cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPADDOCK_SANITIZE=ON
	cmake --build $(ASAN_BUILD_DIR) -j $(JOBS)
	cd $(ASAN_BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -LE 'packaging|vm'

# Tests in a QEMU VM: Debian 12, systemd as PID 1, pure cgroup v2 (tests/vm/README.md). They are
# part of `make test` too; the first run builds the VM image (~1-2 min, cached in
# /var/cache/paddock-tests). Without qemu they print SKIP.
test-vm: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L vm

deb: $(SETUP_STAMP)
	bash scripts/build-deb $(BUILD_DIR)/deb

bench: build
	bash bench/run

format:
	find base daemon sandbox gpu storage cli tests bench -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR)
