#!/bin/sh
# Git hook installed by structr-appsync (`appsync hooks install`). Do not edit: `appsync hooks uninstall`
# removes it and puts back the hook that was here before (kept beside it as <hook>.legacy).
# appsync-hook-id: 3b6f0c1e-structr-appsync-hook
# appsync-hook-version: @@VERSION@@
# POSIX sh only: git runs hooks with /bin/sh-compatible shells, also from GUI clients without a TTY.

HOOK_TYPE=@@HOOK_TYPE@@
# The interpreter appsync was installed with, baked in at install time (GUI clients often have a bare PATH).
APPSYNC_PYTHON=@@PYTHON@@

hook_dir=$(dirname -- "$0")
legacy="$hook_dir/$HOOK_TYPE.legacy"
status=0

# pre-push reads the pushed refs on stdin; both the previous hook and appsync need them.
stdin_copy=
if [ "$HOOK_TYPE" = pre-push ]; then
    stdin_copy=$(mktemp "${TMPDIR:-/tmp}/appsync-pre-push.XXXXXX") || exit 1
    trap 'rm -f "$stdin_copy"' EXIT
    cat >"$stdin_copy"
fi

run_with_stdin() {
    if [ -n "$stdin_copy" ]; then
        "$@" <"$stdin_copy"
    else
        "$@"
    fi
}

# The hook that was here before appsync runs first, and always: appsync's guards below only concern appsync.
if [ -f "$legacy" ] && [ -x "$legacy" ]; then
    run_with_stdin "$legacy" "$@"
    status=$?
    case "$HOOK_TYPE" in
        pre-*) [ "$status" -ne 0 ] && exit "$status" ;;
    esac
fi

# appsync's own commits and imports set APPSYNC_HOOK_ACTIVE; never re-trigger from inside them.
if [ "${APPSYNC_HOOK_ACTIVE:-}" = 1 ]; then
    exit "$status"
fi

if [ -x "$APPSYNC_PYTHON" ]; then
    # -P: do not put the repository (the hook's working directory) first on sys.path, so that a file such as
    # git.py or requests.py in the user's repository cannot shadow what appsync imports.
    run_with_stdin "$APPSYNC_PYTHON" -P -m structr_appsync hook-run "$HOOK_TYPE" -- "$@"
    ours=$?
elif command -v appsync >/dev/null 2>&1; then
    run_with_stdin appsync hook-run "$HOOK_TYPE" -- "$@"
    ours=$?
else
    echo "appsync: $HOOK_TYPE hook: appsync not found (neither $APPSYNC_PYTHON nor appsync on PATH); reinstall it and run 'appsync hooks install', or set APPSYNC_SKIP=1" >&2
    case "$HOOK_TYPE" in
        pre-*) ours=1 ;;
        *) ours=0 ;;
    esac
fi

if [ "$ours" -ne 0 ]; then
    exit "$ours"
fi
exit "$status"
