#!/usr/bin/env bats
# Every binary: a man page that renders cleanly and names every option of
# --help, and completions in completions/ that match what the binary
# generates from the same option table.

ROOT="$BATS_TEST_DIRNAME/../.."

binaries() {
    for b in "$RUNNEL_BIN"/*; do [ -x "$b" ] && basename "$b"; done
}

@test "there are binaries to check" {
    [ -n "$(binaries)" ]
}

@test "every binary has a man page that renders without warnings" {
    for b in $(binaries); do
        [ -f "$ROOT/man/man1/$b.1" ] || { echo "no man page for $b"; false; }
        warn=$(MANWIDTH=80 man --warnings -l "$ROOT/man/man1/$b.1" 2>&1 >/dev/null)
        [ -z "$warn" ] || { echo "$b.1: $warn"; false; }
    done
    for p in "$ROOT"/man/man5/*.5; do
        warn=$(MANWIDTH=80 man --warnings -l "$p" 2>&1 >/dev/null)
        [ -z "$warn" ] || { echo "$p: $warn"; false; }
    done
}

@test "every option in --help is documented in the man page" {
    for b in $(binaries); do
        for opt in $("$RUNNEL_BIN/$b" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
            roff=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
            grep -q -- "$roff" "$ROOT/man/man1/$b.1" || { echo "$b: $opt missing from $b.1"; false; }
        done
    done
}

@test "every binary has an EXIT STATUS section with 0, 1 and 2" {
    for b in $(binaries); do
        grep -q '^\.SH EXIT STATUS' "$ROOT/man/man1/$b.1" || { echo "$b.1: no EXIT STATUS"; false; }
    done
}

@test "bash and zsh completions are up to date with the option tables" {
    for b in $(binaries); do
        diff <("$RUNNEL_BIN/$b" --completion bash) "$ROOT/completions/$b.bash" \
            || { echo "completions/$b.bash is stale: run make completions"; false; }
        diff <("$RUNNEL_BIN/$b" --completion zsh) "$ROOT/completions/_$b" \
            || { echo "completions/_$b is stale: run make completions"; false; }
        bash -n "$ROOT/completions/$b.bash"
    done
}

@test "bash completion offers the options and their words" {
    for b in $(binaries); do
        source "$ROOT/completions/$b.bash"
        COMP_WORDS=("$b" "--he"); COMP_CWORD=1
        "_runnel_$b"
        [[ " ${COMPREPLY[*]} " == *" --help "* ]] || { echo "$b: --he did not complete"; false; }
    done
}

@test "--help and --version exit 0 for every binary" {
    for b in $(binaries); do
        "$RUNNEL_BIN/$b" --help > /dev/null
        "$RUNNEL_BIN/$b" --version | grep -q "(runnel)"
    done
}
