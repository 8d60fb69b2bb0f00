# continuo — build, test, install.
#   make              everything into build/ (build/bin/continuo, build/bin/continuo-*)
#   make test         build and run every test (unit tests, then end-to-end)
#   make install      PREFIX=/usr/local DESTDIR= (also the LV2 bundle in $(PREFIX)/lib/lv2)
#   make install-user the LV2 bundle, self-contained, in ~/.lv2
#
# Layout rules (no need to edit this file when adding a source file):
#   kernels/*.c engine/*.c plugin/*.c plugin/{jack,alsa}/*.c -> build/libcontinuo.a
#   plugin/cli/*.c            -> build/bin/continuo (the front end)
#   plugin/lv2/*.c            -> the LV2 bundle (see "LV2 plugin" below)
#   tools/*/*.c               -> build/libcontinuo-tools.a (trainer, benchmarks, corpus
#                                tools, JACK player/recorder; never in a shipped host)
#   tools/NAME.c              -> build/bin/continuo-NAME
#   tests/support/*.c         -> linked into every test only
#   tests/test_NAME.c         -> build/tests/test_NAME  (a cmocka group; run by make test)
#   tests/e2e_NAME.sh         -> run by make test after the unit tests
#   kernels/cuda/*.cu         -> build/lib/libcontinuo-cuda.so, only when nvcc is found
#                                (CUDA=0 to skip); never linked into a program: the
#                                loader (engine/cuda_loader.c) dlopen()s it at run time
#
# Layers: each folder sees only the headers of the folders below it (the
# include path is set per folder, so a wrong include does not compile):
#   kernels < engine < plugin (shared) < plugin/{jack,alsa,lv2} < plugin/cli
#   tools/* see engine, kernels and plugin; tests see everything.

PREFIX  ?= /usr/local
DESTDIR ?=
# SAN=1 (see "Other compilers, sanitizers, fuzzing" below) builds into its own folder.
BUILD   ?= $(if $(filter 1,$(SAN)),build-san,build)
CC      ?= cc
PKGS    := glib-2.0 smf fluidsynth jack alsa openblas
DEPS_OK := $(shell pkg-config --exists $(PKGS) cmocka && echo yes)
ifneq ($(DEPS_OK),yes)
$(error missing development packages: run tools/install-deps first)
endif

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
# -fPIC: libcontinuo.a's objects also go into shared objects (the LV2 plugin).
CFLAGS  += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -pthread -fPIC \
           -fno-math-errno $(INC) \
           $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm -lpthread -ldl
TEST_LDLIBS := $(shell pkg-config --libs cmocka)

# Optional CUDA backend: its own shared object, linked against the toolkit's
# libcudart and libcublas (found through an rpath, no LD_LIBRARY_PATH needed).
# Programs never link it; engine/cuda_loader.c looks for it next to the
# executable (build/lib), then $CONTINUO_CUDA_LIB, then $(PREFIX)/lib/continuo.
# Code for the H100 (sm_90) plus PTX for compute_80 that the driver JITs on
# other GPUs.
NVCC    ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))
CUDA    ?= $(if $(NVCC),1,0)
CU_SRC  := $(if $(filter 1,$(CUDA)),$(wildcard kernels/cuda/*.cu))
CU_OBJ  := $(CU_SRC:%.cu=$(BUILD)/obj/%.o)
CU_HOME := $(abspath $(dir $(NVCC))..)
CU_LIB  := $(if $(CU_SRC),$(BUILD)/lib/libcontinuo-cuda.so)
NVCCFLAGS ?= -O2 -g -lineinfo
NVCCFLAGS += -std=c++17 -Xcompiler -fPIC,-fvisibility=hidden,-Wall -Ikernels/cuda -Ikernels \
             -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=compute_80
CFLAGS  += -DCONTINUO_LIBDIR='"$(PREFIX)/lib/continuo"'
ifneq ($(CU_SRC),)
CFLAGS  += -DCONTINUO_CUDA=1
endif

# Include paths by layer (pattern-specific: the longest match wins).
I_KERN  := -Ikernels
I_ENG   := $(I_KERN) -Iengine
I_PLUG  := $(I_ENG) -Iplugin
I_TOOLS := $(I_PLUG) -Iplugin/jack $(patsubst %,-I%,$(wildcard tools/*/))
$(BUILD)/obj/kernels/%.o:     INC := $(I_KERN)
$(BUILD)/obj/engine/%.o:      INC := $(I_ENG)
$(BUILD)/obj/plugin/%.o:      INC := $(I_PLUG)
$(BUILD)/obj/plugin/jack/%.o: INC := $(I_PLUG) -Iplugin/jack
$(BUILD)/obj/plugin/alsa/%.o: INC := $(I_PLUG) -Iplugin/alsa
$(BUILD)/obj/plugin/lv2/%.o:  INC := $(I_PLUG) -Iplugin/lv2
$(BUILD)/obj/plugin/cli/%.o:  INC := $(I_PLUG) -Iplugin/jack -Iplugin/alsa -Iplugin/cli
$(BUILD)/obj/tools/%.o:       INC := $(I_TOOLS)
$(BUILD)/obj/tests/%.o:       INC := $(I_TOOLS) -Iplugin/alsa -Iplugin/lv2 -Itests/support

LIB_SRC := $(wildcard kernels/*.c engine/*.c plugin/*.c plugin/jack/*.c plugin/alsa/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB     := $(BUILD)/libcontinuo.a
TLIB_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tools/*/*.c))
TLIB    := $(BUILD)/libcontinuo-tools.a
CLI_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard plugin/cli/*.c))
TOOLS   := $(patsubst tools/%.c,$(BUILD)/bin/continuo-%,$(wildcard tools/*.c))
TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
TEST_HELP_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/support/*.c))
# The LV2 plugin and its tests need lv2 and lilv (see "LV2 plugin" below).
LV2_OK  := $(shell pkg-config --exists lv2 lilv-0 && echo yes)
ifneq ($(LV2_OK),yes)
TESTS   := $(filter-out $(BUILD)/tests/test_lv2%,$(TESTS))
endif
BIN     := $(BUILD)/bin/continuo
# Quiet by default; `make V=1` prints the full commands.
Q       := $(if $(filter 1,$(V)),,@)
say     = $(if $(Q),@printf '  %-6s %s\n' $(1) $(2))

all: $(BIN) $(TOOLS) $(TESTS) $(CU_LIB)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(call say,NVCC,$<)
	$(Q)$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@

$(CU_LIB): $(CU_OBJ)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(NVCC) -shared --cudart shared $(NVCCFLAGS) $^ -o $@ -L$(CU_HOME)/lib64 -lcublas \
	    -Xlinker -rpath,$(CU_HOME)/lib64

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(TLIB): $(TLIB_OBJ)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bin/continuo-%: $(BUILD)/obj/tools/%.o $(TLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_HELP_OBJ) $(TLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(TEST_LDLIBS)

# LV2 plugin (plugin/lv2/, not in libcontinuo.a): the bundle
# build/lib/lv2/continuo.lv2 = manifest.ttl + continuo.ttl + continuo.so
# (exports only lv2_descriptor), built when lv2 and lilv are installed
# (tools/install-deps); tests/test_lv2_* also need lilv. -z nodelete: the
# .so stays mapped after a host unloads it: it leaves callbacks registered in
# shared libraries (FluidSynth's log hook, plugin/synth.c), and without it the
# test host crashed at exit in a thread running the unmapped code.
LV2_DIR := $(BUILD)/lib/lv2/continuo.lv2
LV2_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard plugin/lv2/*.c))
LV2_BUNDLE := $(LV2_DIR)/continuo.so $(LV2_DIR)/manifest.ttl $(LV2_DIR)/continuo.ttl
ifeq ($(LV2_OK),yes)
all: $(LV2_BUNDLE)
$(LV2_OBJ): CFLAGS += -fvisibility=hidden $(shell pkg-config --cflags lv2)
$(LV2_DIR)/continuo.so: $(LV2_OBJ) $(LIB) plugin/lv2/export.map
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -shared -Wl,--version-script=plugin/lv2/export.map -Wl,--as-needed \
	    -Wl,-z,defs -Wl,-z,nodelete $(LV2_OBJ) $(LIB) -o $@ $(LDLIBS)
$(LV2_DIR)/%.ttl: plugin/lv2/%.ttl
	@mkdir -p $(dir $@)
	$(Q)cp $< $@
$(BUILD)/obj/tests/test_lv2%.o: CFLAGS += $(shell pkg-config --cflags lv2 lilv-0)
$(BUILD)/tests/test_lv2%: LDLIBS += $(shell pkg-config --libs lilv-0)
$(filter $(BUILD)/tests/test_lv2%,$(TESTS)): | $(LV2_BUNDLE)
endif

# The bundle where hosts look: $(PREFIX)/lib/lv2 (the model and presets come
# from $(PREFIX)/share/continuo, installed by `make install`), or ~/.lv2 for
# one user, self-contained (model and presets copied into the bundle).
install-lv2: $(LV2_BUNDLE)
	install -d $(DESTDIR)$(PREFIX)/lib/lv2/continuo.lv2
	install -m 644 $(LV2_BUNDLE) $(DESTDIR)$(PREFIX)/lib/lv2/continuo.lv2/
install-user: $(LV2_BUNDLE)
	install -d $(HOME)/.lv2/continuo.lv2/presets
	install -m 644 $(LV2_BUNDLE) presets/continuo.bin $(HOME)/.lv2/continuo.lv2/
	install -m 644 $(wildcard presets/*.ini) $(HOME)/.lv2/continuo.lv2/presets/

# Unit tests first (fast, no server), then the end-to-end scripts, then the
# clang + ASan/UBSan unit tests and fuzz smoke (sancheck, below).
test: all
	@tests/run-all $(BUILD)
	@$(MAKE) --no-print-directory sancheck

install: all $(if $(filter yes,$(LV2_OK)),install-lv2)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/continuo/presets \
	           $(DESTDIR)$(PREFIX)/share/continuo/soundfonts
	install -m 755 $(BIN) $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(wildcard presets/*.ini presets/*.bin presets/*.mid presets/*.service) \
	        $(DESTDIR)$(PREFIX)/share/continuo/presets/
	install -m 644 soundfonts/README.md $(DESTDIR)$(PREFIX)/share/continuo/soundfonts/
ifneq ($(CU_LIB),)
	install -d $(DESTDIR)$(PREFIX)/lib/continuo
	install -m 755 $(CU_LIB) $(DESTDIR)$(PREFIX)/lib/continuo/
endif

clean:
	rm -rf $(BUILD)

# ---- Other compilers, sanitizers, fuzzing --------------------------------
#   make CC=clang BUILD=build-clang   any C compiler, into its own folder
#   make SAN=1 [CC=clang]             AddressSanitizer + UBSan (any UB fails),
#                                     into build-san unless BUILD says otherwise
#   make sancheck                     clang + ASan/UBSan build of the unit tests
#                                     (build-clang-san, no CUDA, no LV2), then runs
#                                     build-clang-san/tests/test_* and a short fuzz
#                                     smoke (FUZZ_SECONDS, default 20 per target);
#                                     skipped with one line when clang is missing
#   make fuzz FUZZ_SECONDS=N          builds tests/fuzz/fuzz_*.c with libFuzzer
#                                     (build-fuzz) and runs each target N s
#                                     (default 60) from a seed corpus the
#                                     project's tools write into build-fuzz/seeds
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
endif
ifeq ($(FUZZ),1)
CFLAGS  += -fsanitize=fuzzer-no-link
endif
CLANG        ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   ?= build-fuzz
SAN_BUILD    ?= build-clang-san
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/obj/tests/fuzz/%.o: INC := $(I_TOOLS) -Itests/support
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(TEST_HELP_OBJ) $(TLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS) $(TEST_LDLIBS)
fuzzers: $(FUZZERS)

sancheck:
	@if ! command -v $(CLANG) >/dev/null; then \
	  echo "sancheck: SKIPPED: no $(CLANG) (tools/install-deps --clang installs it)"; exit 0; fi; \
	$(MAKE) --no-print-directory CC=$(CLANG) SAN=1 CUDA=0 LV2_OK=no BUILD=$(SAN_BUILD) \
	  $(patsubst $(BUILD)/%,$(SAN_BUILD)/%,$(filter-out %/test_lv2_host,$(TESTS)) $(BIN) $(TOOLS)) && \
	tools/sancheck $(SAN_BUILD) && \
	$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(or $(SMOKE_SECONDS),20)

fuzz:
	@if ! command -v $(CLANG) >/dev/null; then \
	  echo "fuzz: SKIPPED: no $(CLANG)"; exit 0; fi; \
	$(MAKE) --no-print-directory CC=$(CLANG) SAN=1 FUZZ=1 CUDA=0 LV2_OK=no BUILD=$(FUZZ_BUILD) \
	  fuzzers $(FUZZ_BUILD)/bin/continuo $(FUZZ_BUILD)/bin/continuo-mkmodel && \
	tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)
.PHONY: sancheck fuzz fuzzers

.PHONY: all test install install-lv2 install-user clean
.SECONDARY:
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
