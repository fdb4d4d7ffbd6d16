# Complaint-handling backbone: build, run, test.
#   make            build every service binary into build/bin and the web console into build/console
#   make run        install what is missing, start PostgreSQL, Kafka, nginx and the six services
#   make test       the same on throw-away state and free ports, then unit + system tests
#   make chaos      the fault battery alone: each service, the broker and PostgreSQL killed in
#                   turn under a stream of complaints and scans, nothing lost or repeated, each
#                   recovery time printed (also a layer of make test)
#   make bench      throughput figures on the real broker and PostgreSQL
#   make model      train classification's text classifier from its corpus (part of `make`)
#   make eval       its accuracy, macro-F1, per-class figures and confusion matrix on the test split
#                   and on the probe set
#   make fuzz       every libFuzzer target (tests/fuzz) for FUZZ_SECONDS (60) each, from its seeds
SHELL := /bin/bash
CC ?= cc
BUILD ?= build
export BUILD
SAN ?=
PKGS := rdkafka libprotobuf-c libevent libevent_pthreads libpq jansson libcrypto libcurl libsodium libutf8proc
CFLAGS ?= -O2 -g
# Project flags live apart from CFLAGS so `make CFLAGS=-O0` or `SAN=-fsanitize=...` only add to them.
ALL_CFLAGS = $(CFLAGS) -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Werror=implicit-function-declaration \
          -D_GNU_SOURCE -pthread -Icommon -I$(BUILD)/gen $(SAN) \
          $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
LDFLAGS += $(SAN)
# The text classifier links OpenCC (traditional -> simplified) and fastText (C++, reached
# through a thin extern "C" shim compiled with $(CXX)) into classification only.
TEXT_CFLAGS := $(shell pkg-config --cflags opencc 2>/dev/null)
TEXT_LIBS := $(shell pkg-config --libs opencc fasttext 2>/dev/null) -lstdc++
ALL_CXXFLAGS = $(CFLAGS) -std=c++17 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -pthread \
          -Icommon $(SAN)
# intake draws the waybill's QR code with libqrencode and writes its PNG with zlib.
QR_LIBS := $(shell pkg-config --libs libqrencode zlib 2>/dev/null)
svc_libs = $(if $(filter classification,$(1)),$(TEXT_LIBS)) $(if $(filter intake,$(1)),$(QR_LIBS))

# What --version and cp_build_info{version,commit} say: VERSION (the release, also the Helm
# chart's appVersion) and the commit built (an image build passes CP_COMMIT, having no .git).
CP_VERSION ?= $(shell cat VERSION 2>/dev/null || echo dev)
CP_COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

PROTOS := $(wildcard proto/*.proto)
GEN_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_H := $(GEN_C:.c=.h)
GEN_O := $(GEN_C:.c=.o)
COMMON_SRC := $(wildcard common/*.c)
COMMON_O := $(patsubst %.c,$(BUILD)/obj/%.o,$(COMMON_SRC))
SERVICES := intake classification evidence resolution followup timer admin
BINS := $(patsubst %,$(BUILD)/bin/cp-%,$(SERVICES))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
TEXTMODEL_TOOL := $(BUILD)/bin/cp-textmodel
MODEL := $(BUILD)/model/classifier.bin
CORPUS := services/classification/corpus/corpus.tsv
# the seeded keyword table: features of the model's input, so a change retrains it
KEYWORD_SQL := deploy/sql/0200_classification_rules.sql deploy/sql/0760_classification_text_reader.sql \
               deploy/sql/0872_classification_keyword_features.sql

# The web console (services/console): static assets bundled by esbuild from the npm packages
# pinned in package-lock.json; `npm ci` prefers the npm cache that deploy/scripts/deps.sh filled.
CONSOLE := services/console
CONSOLE_SRC := $(wildcard $(CONSOLE)/src/*.* $(CONSOLE)/src/*/*.*) $(CONSOLE)/build.mjs
CONSOLE_MODULES := $(CONSOLE)/node_modules/.package-lock.json

.PHONY: all console deps run test unit system chaos bench format format-check clean model eval \
	fuzz fuzz-build fuzz-bins FORCE
all: $(BINS) $(UNIT_BINS) console $(MODEL)

console: $(BUILD)/console/index.html

$(BUILD)/console/index.html: $(CONSOLE_SRC) $(CONSOLE_MODULES)
	node $(CONSOLE)/build.mjs $(BUILD)/console

$(CONSOLE_MODULES): $(CONSOLE)/package.json $(CONSOLE)/package-lock.json
	cd $(CONSOLE) && npm ci --prefer-offline --no-audit --no-fund --loglevel=error

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c $(GEN_H)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c $(GEN_H) $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEXT_CFLAGS) -c $< -o $@

# A service's objects also depend on the services' headers (coarse, but a struct that grew in a
# service header must never meet objects compiled against its old layout: that crashed a mixed
# build of follow-up). The more specific pattern wins over the one above.
$(BUILD)/obj/services/%.o: services/%.c $(GEN_H) $(wildcard common/*.h) $(wildcard services/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEXT_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cc $(wildcard services/*/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(ALL_CXXFLAGS) -c $< -o $@

# Rewritten only when the version or the commit changed, so only svc.o is rebuilt then.
$(BUILD)/gen/cp_version.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define CP_VERSION "%s"\n#define CP_COMMIT "%s"\n' '$(CP_VERSION)' '$(CP_COMMIT)' >$@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@

$(BUILD)/obj/common/svc.o: $(BUILD)/gen/cp_version.h

FORCE:

$(BUILD)/libcommon.a: $(COMMON_O) $(GEN_O)
	ar rcs $@ $^

svc_objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard services/$(1)/*.c)) \
           $(patsubst %.cc,$(BUILD)/obj/%.o,$(wildcard services/$(1)/*.cc))
test_svc_objs = $(filter-out %/main.o,$(call svc_objs,$(word 2,$(subst _, ,$(1)))))

.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/bin/cp-%: $$(call svc_objs,$$*) $(BUILD)/libcommon.a
	@mkdir -p $(BUILD)/bin
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(BUILD)/libcommon.a $(LDLIBS) $(call svc_libs,$*)

# A unit test links the common library and, when named test_<service>_*.c, that service's
# objects except main.o so its pure domain functions can be called directly.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcommon.a $$(call test_svc_objs,$$*)
	@mkdir -p $(BUILD)/tests
	$(CC) $(ALL_CFLAGS) -Iservices -o $@ $< $(filter %.o,$^) $(BUILD)/libcommon.a $(LDLIBS) \
	    $(call svc_libs,$(word 2,$(subst _, ,$*))) $(shell pkg-config --libs check)

# The text classifier: cp-textmodel trains it from the corpus with fixed hyper-parameters, one
# thread and a fixed seed (a few seconds), so the model is built, never edited or committed.
$(TEXTMODEL_TOOL): services/classification/tools/textmodel_tool.c $(call test_svc_objs,test_classification) $(BUILD)/libcommon.a
	@mkdir -p $(BUILD)/bin
	$(CC) $(ALL_CFLAGS) -Iservices -o $@ $< $(filter %.o,$^) $(BUILD)/libcommon.a $(LDLIBS) $(TEXT_LIBS)

$(MODEL): $(CORPUS) services/classification/textnorm.c services/classification/negation.c \
          services/classification/tools/textmodel_tool.c $(KEYWORD_SQL) | $(TEXTMODEL_TOOL)
	@mkdir -p $(dir $@)
	$(TEXTMODEL_TOOL) train $(CORPUS) $@

model: $(MODEL)

# the test split, then the probe set (texts written after the corpus, never trained or tuned on)
eval: $(MODEL)
	@$(TEXTMODEL_TOOL) eval $(CORPUS) $(MODEL) test
	@echo
	@$(TEXTMODEL_TOOL) eval $(CORPUS) $(MODEL) probe

# libFuzzer targets: everything they link is rebuilt by clang with coverage instrumentation,
# ASan and UBSan into $(BUILD)/fuzz (a sub-make with its own BUILD); fuzz_intake_* also link
# intake's objects. tests/fuzz/run.sh runs each from its seed corpus tests/fuzz/corpus/<name>.
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_SECONDS ?= 60

fuzz-bins: $(patsubst %,$(BUILD)/fuzz-bin/%,$(FUZZ_NAMES))

FUZZ_INTAKE := $(patsubst %,$(BUILD)/fuzz-bin/%,$(filter fuzz_intake_%,$(FUZZ_NAMES)))
$(FUZZ_INTAKE): $(BUILD)/fuzz-bin/%: tests/fuzz/%.c $(BUILD)/libcommon.a $(call test_svc_objs,test_intake)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -Iservices -o $@ $< $(filter %.o,$^) \
	    $(BUILD)/libcommon.a $(LDLIBS) $(QR_LIBS)

$(BUILD)/fuzz-bin/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libcommon.a $(LDLIBS)

fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz CC=clang SAN="$(FUZZ_SAN)" CFLAGS="-O1 -g" \
	    fuzz-bins

fuzz: fuzz-build
	@tests/fuzz/run.sh $(BUILD)/fuzz/fuzz-bin $(FUZZ_SECONDS)

deps:
	@deploy/scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	@deploy/scripts/run.sh

test: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh

unit: all
	@tests/run.sh unit

chaos: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh chaos

bench: deps
	@$(MAKE) --no-print-directory all
	@tests/bench.sh

format:
	clang-format -i common/*.[ch] services/*/*.[ch] services/*/tools/*.c tests/unit/*.c tests/fuzz/*.c

format-check:
	clang-format --dry-run --Werror common/*.[ch] services/*/*.[ch] services/*/tools/*.c tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf $(BUILD)
