# Two commands: `make run` (the app) and `make test` (everything CI checks).
# Both prepare the machine first (system packages, libtorch) via scripts/bootstrap.sh.
CACHE  ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/emotune
PYTHON ?= $(CACHE)/torch-venv/bin/python
# Empty: the shared tarball, unpacked into the cache and re-unpacked when it changes.
DATA   ?=
ARGS   ?=

.PHONY: run test lint bench train fuzz setup install uninstall deb

setup:
	@scripts/bootstrap.sh test

run:
	@scripts/bootstrap.sh run
	cargo run --release -- $(ARGS)

test:
	@scripts/bootstrap.sh test
	cargo fmt --all -- --check
	cargo clippy --release --all-targets -- -D warnings
	cargo test --release --all-targets
	RUSTDOCFLAGS="-D warnings" cargo doc --release --no-deps
	$(PYTHON) -m pytest -q training/tests

lint:
	@scripts/bootstrap.sh run
	cargo clippy --release --all-targets -- -D warnings

# The app for your desktop: binary in ~/.local/bin, libtorch's libraries in ~/.local/lib/emotune,
# model, menu entry, icons (PREFIX=... to move it); needs nothing from the cache afterwards.
install:
	@scripts/bootstrap.sh run
	cargo build --release
	@scripts/install.sh install

uninstall:
	@scripts/install.sh uninstall

# target/debian/emotune_<version>_amd64.deb: the same tree as `make install` under /usr.
# `sudo scripts/deb-test.sh` installs it with apt, runs it and removes it again.
deb:
	@scripts/bootstrap.sh run
	cargo build --release
	@scripts/deb.sh

bench:
	@scripts/bootstrap.sh run
	cargo bench

# Every fuzz target (src/fuzz: parsers of outside input) for FUZZ_SECS seconds each, one at a
# time; prints the exec counts. `make test` runs them for 2 s each.
FUZZ_SECS ?= 600
fuzz:
	@scripts/bootstrap.sh test
	EMOTUNE_FUZZ_SECS=$(FUZZ_SECS) cargo test --release --lib fuzz:: -- --nocapture --test-threads 1

# The shipped model (models/MODEL_CARD.md): the file that shipped before it (v3, read from git,
# itself made by this target's three cycles from v2 at $(V3_COMMIT)) fine-tuned 10 more epochs
# on FER+'s ten votes per face, BatchNorm's statistics trained, and exported with the mirror
# pass for faces whose top probability is under 0.6. ~2 min an epoch on two cores with AVX-512
# BF16 and nothing else running (~4 without); resumable (run it again after an interruption).
# Writes $(TRAIN_RUN)/model.pt, its metrics.json and neutral anchor; copy them into models/
# after `emotune eval`.
SHIPPED_ARCH = s1w40
V3_COMMIT = 40018b4
TRAIN_RUN ?= $(CACHE)/runs/ferplus-v4
TRAIN_COMMON = --arch $(SHIPPED_ARCH) --labels ferplus --cutmix 0.5 --bf16 auto \
	--threads 0 --resume $(if $(DATA),--data $(DATA)) $(ARGS)
train:
	@scripts/bootstrap.sh test
	@mkdir -p $(TRAIN_RUN)
	@test -f $(TRAIN_RUN)/v3.pt || { git show $(V3_COMMIT):models/emotion_resnet18_cbam.pt > $(TRAIN_RUN)/v3.tmp \
		&& $(PYTHON) -m training.recover --arch $(SHIPPED_ARCH) $(TRAIN_RUN)/v3.tmp $(TRAIN_RUN)/v3.pt \
		$(if $(DATA),--data $(DATA)) && rm $(TRAIN_RUN)/v3.tmp; }
	nice -n 10 $(PYTHON) -m training.train $(TRAIN_COMMON) --init-from $(TRAIN_RUN)/v3.pt \
		--lr 0.01 --epochs 10 --seed 71 --flip-below 0.6 --run-dir $(TRAIN_RUN) --out $(TRAIN_RUN)/model.pt
