# continuo — build, test, install.
#   make              everything into build/ (build/bin/continuo, build/bin/continuo-*)
#   make test         build and run every test (unit tests, then end-to-end)
#   make install      PREFIX=/usr/local DESTDIR=
#
# Layout rules (no need to edit this file when adding a source file):
#   engine/*.c kernels/*.c plugin/*.c (but plugin/main.c) tools/lib/*.c -> build/libcontinuo.a
#   plugin/main.c             -> build/bin/continuo
#   tools/NAME.c              -> build/bin/continuo-NAME
#   tests/test_NAME.c         -> build/tests/test_NAME  (a cmocka group; run by make test)
#   tests/e2e_NAME.sh         -> run by make test after the unit tests
#   kernels/cuda/*.cu         -> compiled in only when nvcc is found (CUDA=0 to skip)

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
PKGS    := glib-2.0 smf fluidsynth jack alsa openblas
DEPS_OK := $(shell pkg-config --exists $(PKGS) cmocka && echo yes)
ifneq ($(DEPS_OK),yes)
$(error missing development packages: run tools/install-deps first)
endif

OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -pthread \
           -fno-math-errno -Iengine -Ikernels -Iplugin -Itools/lib \
           $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm -lpthread
TEST_LDLIBS := $(shell pkg-config --libs cmocka)

# Optional CUDA backend.
NVCC    ?= $(shell command -v nvcc 2>/dev/null)
CUDA    ?= $(if $(NVCC),1,0)
CU_SRC  := $(if $(filter 1,$(CUDA)),$(wildcard kernels/cuda/*.cu))
ifneq ($(CU_SRC),)
CFLAGS  += -DCONTINUO_CUDA=1
LDLIBS  += -L$(dir $(NVCC))../lib64 -lcudart -lstdc++
endif

LIB_SRC := $(wildcard engine/*.c kernels/*.c tools/lib/*.c) \
           $(filter-out plugin/main.c,$(wildcard plugin/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(CU_SRC:%.cu=$(BUILD)/obj/%.o)
LIB     := $(BUILD)/libcontinuo.a
TOOLS   := $(patsubst tools/%.c,$(BUILD)/bin/continuo-%,$(wildcard tools/*.c))
TESTS   := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_*.c))
TEST_HELP_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/support/*.c))
BIN     := $(BUILD)/bin/continuo
# Quiet by default; `make V=1` prints the full commands.
Q       := $(if $(filter 1,$(V)),,@)
say     = $(if $(Q),@printf '  %-6s %s\n' $(1) $(2))

all: $(BIN) $(TOOLS) $(TESTS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(dir $@)
	$(call say,NVCC,$<)
	$(Q)$(NVCC) -O2 -Iengine -Ikernels -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BIN): $(BUILD)/obj/plugin/main.o $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bin/continuo-%: $(BUILD)/obj/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TEST_HELP_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(call say,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(TEST_LDLIBS)

# Unit tests first (fast, no server), then the end-to-end scripts.
test: all
	@tests/run-all $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/continuo/presets \
	           $(DESTDIR)$(PREFIX)/share/continuo/soundfonts
	install -m 755 $(BIN) $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(wildcard presets/*.ini presets/*.bin presets/*.mid presets/*.service) \
	        $(DESTDIR)$(PREFIX)/share/continuo/presets/
	install -m 644 soundfonts/README.md $(DESTDIR)$(PREFIX)/share/continuo/soundfonts/

clean:
	rm -rf $(BUILD)

.PHONY: all test install clean
.SECONDARY:
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
