#!/usr/bin/env bash
# Installs sagemaker-mlflow-proxy as a systemd service on an EC2 host (Debian, Ubuntu, Amazon Linux).
#
#   sudo ./install.sh [--binary PATH] [--env KEY=VALUE]...   install, or re-run to apply changes (idempotent)
#   sudo ./install.sh --upgrade --binary PATH                 swap the executable atomically, keep the old one
#   sudo ./install.sh --rollback                              go back to the previous executable
#   sudo ./install.sh --uninstall [--purge]                   remove it (configuration kept unless --purge)
#
# Options for testing and review:
#   --root DIR   install into a staging root instead of /      --no-start   do not call systemctl
#   --dry-run    print what would be done, change nothing
#
# Files: /usr/local/bin/sagemaker-mlflow-proxy (+ .previous), /etc/sagemaker-mlflow-proxy/{rules.yaml,
# environment}, /etc/systemd/system/sagemaker-mlflow-proxy.service, /usr/local/share/sagemaker-mlflow-proxy
# (the shipped configuration, to tell edits apart). An edited rules.yaml or environment is never
# overwritten: a changed shipped version is written beside it as .new.
set -eu

NAME=sagemaker-mlflow-proxy
HERE=$(cd "$(dirname "$0")" && pwd)

root=""
binary=""
mode=install
start=yes
dry_run=no
purge=no
env_settings=()

die() {
  echo "install.sh: $*" >&2
  exit 1
}
say() { echo "install.sh: $*"; }
# Reports a change: what was done, or under --dry-run what would be (nothing was done).
did() { # "what a real run did" "what a dry run would do"
  if [ "$dry_run" = yes ]; then say "would $2"; else say "$1"; fi
}

usage() {
  sed -n "2,16p" "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) [ $# -ge 2 ] || die "--binary needs a PATH"; binary=$2; shift 2 ;;
    --root) [ $# -ge 2 ] || die "--root needs a DIR"; root=${2%/}; shift 2 ;;
    --env) [ $# -ge 2 ] || die "--env needs KEY=VALUE"; env_settings+=("$2"); shift 2 ;;
    --upgrade) mode=upgrade; shift ;;
    --rollback) mode=rollback; shift ;;
    --uninstall) mode=uninstall; shift ;;
    --purge) purge=yes; shift ;;
    --no-start) start=no; shift ;;
    --dry-run) dry_run=yes; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
[ "$purge" = no ] || [ "$mode" = uninstall ] || die "--purge only goes with --uninstall"

# --env settings are checked before anything is written. An empty value is refused: it is what
# `--env KEY=$VAR` gives when VAR is unset, and the file it would write is one the next run keeps
# (it never overwrites an existing environment file). Empty as systemd reads it: "", '' and blanks too.
for setting in "${env_settings[@]+"${env_settings[@]}"}"; do
  key=${setting%%=*}
  case "$setting" in
    *=*) ;;
    *) die "--env $setting: expected KEY=VALUE" ;;
  esac
  case "$key" in
    '' | [0-9]* | *[!A-Za-z0-9_]*) die "--env $setting: expected KEY=VALUE, KEY a variable name" ;;
  esac
  value=${setting#*=}
  value=${value//[[:space:]]/}
  case "$value" in
    '' | '""' | "''") die "--env $setting: the value is empty (an unset shell variable?); give $key a value, or leave the option out" ;;
  esac
done

BIN=$root/usr/local/bin/$NAME
PREVIOUS=$BIN.previous
CONF=$root/etc/$NAME
RULES=$CONF/rules.yaml
ENVFILE=$CONF/environment
UNIT=$root/etc/systemd/system/$NAME.service
SHARE=$root/usr/local/share/$NAME

# Every change goes through run, so --dry-run shows exactly what a real run would do.
run() {
  if [ "$dry_run" = yes ]; then
    echo "+ $*"
  else
    "$@"
  fi
}

prerequisites() {
  if [ -z "$root" ] && [ "$dry_run" = no ] && [ "$(id -u)" -ne 0 ]; then
    die "must run as root (sudo $0 ...), or use --root DIR to stage an install"
  fi
  if [ "$start" = yes ] && [ ! -d /run/systemd/system ]; then
    die "systemd is not running on this machine (no /run/systemd/system); use --no-start to only lay out the files"
  fi
  case "${INSTALL_ARCH:-$(uname -m)}" in
    x86_64 | aarch64) ;;
    *) die "unsupported architecture ${INSTALL_ARCH:-$(uname -m)}: Bun's single-file executables exist for x86_64 and aarch64" ;;
  esac
  if [ "$start" = yes ] && ! command -v systemctl >/dev/null 2>&1; then
    die "systemctl not found"
  fi
}

# Installs a file only when its content differs; 0 when it changed.
install_file() { # mode source target
  if [ -f "$3" ] && cmp -s "$2" "$3"; then
    return 1
  fi
  run install -D -m "$1" "$2" "$3"
}

# A configuration file the operator may edit, handled like dpkg's conffiles: the shipped version
# installed last is kept in $SHARE, so a re-run knows whether the operator or the shipped version
# changed. Operator's edits are never overwritten; if both changed, the shipped one goes to .new.
install_config() { # mode template target [initial content, default: the template]
  local template=$2 target=$3 initial=${4:-$2}
  local shipped
  shipped=$SHARE/$(basename "$target").shipped
  if [ ! -e "$target" ]; then
    run install -D -m "$1" "$initial" "$target"
    did "created $target" "create $target"
  elif [ -f "$shipped" ] && cmp -s "$template" "$shipped"; then
    say "$target kept (the shipped version has not changed)"
    return 0
  elif cmp -s "$target" "$template"; then
    say "$target unchanged"
  elif [ -f "$shipped" ] && cmp -s "$target" "$shipped"; then
    run install -m "$1" "$template" "$target"
    did "updated $target to the shipped version (it had not been edited)" "update $target to the shipped version (it has not been edited)"
  else
    run install -m "$1" "$template" "$target.new"
    did "kept your edited $target; the shipped version is in $target.new (compare: diff $target $target.new)" "keep your edited $target and write the shipped version to $target.new"
  fi
  run install -D -m 0644 "$template" "$shipped"
}

environment_source() {
  local out
  out=$(mktemp)
  cp "$HERE/systemd/environment.example" "$out"
  local setting key
  for setting in "${env_settings[@]+"${env_settings[@]}"}"; do
    key=${setting%%=*}
    if grep -q "^#\{0,1\}$key=" "$out"; then
      sed -i "s|^#\{0,1\}$key=.*|$(printf '%s' "$setting" | sed 's/[|&\\]/\\&/g')|" "$out"
    else
      printf '%s\n' "$setting" >>"$out"
    fi
  done
  echo "$out"
}

# The new executable: --binary, else the local build (npm run build).
new_binary() {
  local candidate=${binary:-$HERE/dist/$NAME}
  [ -f "$candidate" ] || die "no executable at $candidate: run \`npm run build\` or pass --binary PATH"
  [ -x "$candidate" ] || die "$candidate is not executable"
  "$candidate" version >/dev/null 2>&1 || die "$candidate does not run on this machine (\`$candidate version\` failed)"
  echo "$candidate"
}

# Replaces the executable in one rename, keeping the one it replaces for --rollback.
swap_binary() {
  local source=$1
  if [ -f "$BIN" ] && cmp -s "$source" "$BIN"; then
    say "$BIN is already $("$source" version)"
    return 1
  fi
  run install -D -m 0755 "$source" "$BIN.new"
  if [ -f "$BIN" ]; then
    run cp -p "$BIN" "$PREVIOUS"
    did "kept the current executable as $PREVIOUS (for --rollback)" "keep the current executable as $PREVIOUS (for --rollback)"
  fi
  run mv -f "$BIN.new" "$BIN"
  did "installed $BIN: $("$source" version)" "install $BIN: $("$source" version)"
}

# The environment file as systemd's EnvironmentFile= reads it (systemd.exec(5)), into the array
# `environment`: KEY=VALUE lines; empty lines and lines starting with # or ; are skipped, as are
# lines without "="; whitespace around the value is dropped; a value in single quotes is taken
# verbatim, one in double quotes keeps what follows a backslash only for \" \\ \$ \`, an unquoted one
# keeps the character after any backslash; a line ending in a backslash goes on on the next line.
# Nothing is expanded and nothing runs: sourcing the file with bash would run `$(...)` and split
# `a b` into a command, which the service, started by systemd, would never see. (Quoted values
# spanning several lines are not supported.)
read_environment() { # file
  local line next key value
  environment=()
  while IFS= read -r line || [ -n "$line" ]; do
    while [ "${line%\\}" != "$line" ] && IFS= read -r next; do line=${line%\\}$next; done
    line=${line#"${line%%[![:space:]]*}"}
    case "$line" in '' | '#'* | ';'*) continue ;; esac
    case "$line" in *=*) ;; *) continue ;; esac
    key=${line%%=*}
    key=${key%"${key##*[![:space:]]}"}
    value=${line#*=}
    value=${value#"${value%%[![:space:]]*}"}
    value=${value%"${value##*[![:space:]]}"}
    if ! [[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
      say "$1: ignoring \"$key\": not a variable name (systemd ignores it too)"
      continue
    fi
    case "$value" in
      \'*\') value=${value:1:${#value}-2} ;;
      \"*\") value=$(unescape double "${value:1:${#value}-2}") ;;
      *) value=$(unescape plain "$value") ;;
    esac
    environment+=("$key=$value")
  done <"$1"
}

unescape() { # double|plain TEXT
  local text=$2 out='' i=0 next
  while [ "$i" -lt "${#text}" ]; do
    if [ "${text:i:1}" = "\\" ] && [ $((i + 1)) -lt "${#text}" ]; then
      next=${text:i+1:1}
      if [ "$1" = plain ] || [[ $next == [\"\\\$\`] ]]; then
        out+=$next
        i=$((i + 2))
        continue
      fi
    fi
    out+=${text:i:1}
    i=$((i + 1))
  done
  printf '%s' "$out"
}

# `check` with the environment systemd will give the service, by the given executable. 1 when the
# rules do not validate.
check_rules() { # executable
  [ "$dry_run" = no ] || { echo "+ $1 check --rules $RULES (with $ENVFILE)"; return 0; }
  local environment
  read_environment "$ENVFILE"
  env "${environment[@]+"${environment[@]}"}" "$1" check --rules "$RULES"
}

# What a run may change before its check passes, copied aside so a failed check can put the host
# back as it was (a file that did not exist is removed again): an upgrade keeps the installed
# release, and a failed first install keeps nothing. It used to keep its environment file, and the
# next run, which never overwrites one, ignored the corrected --env (issue 20 item 11).
INSTALLED_STATE=("$RULES" "$RULES.new" "$ENVFILE" "$ENVFILE.new" "$SHARE/rules.yaml.shipped" "$SHARE/environment.shipped")
INSTALLED_DIRS=("$CONF" "$SHARE")
keep_installed() { # dir
  local path i=0
  for path in "${INSTALLED_STATE[@]}"; do
    if [ -e "$path" ]; then cp -p "$path" "$1/$i"; fi
    i=$((i + 1))
  done
}
restore_installed() { # dir
  local path i=0
  for path in "${INSTALLED_STATE[@]}"; do
    if [ -e "$1/$i" ]; then cp -p "$1/$i" "$path"; else rm -f "$path"; fi
    i=$((i + 1))
  done
  # Directories this run created, now empty again.
  i=0
  for path in "${INSTALLED_DIRS[@]}"; do
    [ -e "$1/dir$i" ] || rmdir "$path" 2>/dev/null || true
    i=$((i + 1))
  done
}

# From here until commit_changes, a run that stops for any reason (a failed check, an error under
# set -e) restores what keep_installed copied. A dry run changes nothing to restore.
kept=""
begin_changes() {
  [ "$dry_run" = no ] || return 0
  kept=$(mktemp -d)
  keep_installed "$kept"
  local path i=0
  for path in "${INSTALLED_DIRS[@]}"; do
    if [ -d "$path" ]; then touch "$kept/dir$i"; fi
    i=$((i + 1))
  done
  trap undo_changes EXIT
}
undo_changes() {
  restore_installed "$kept"
  rm -rf "$kept"
}
commit_changes() {
  [ -n "$kept" ] || return 0
  trap - EXIT
  rm -rf "$kept"
  kept=""
}

wait_ready() {
  local port path=/-/ready _
  port=$(sed -n 's/^PORT=\([0-9]*\)$/\1/p' "$ENVFILE" | tail -1)
  port=${port:-8080}
  for _ in $(seq 1 60); do
    if command -v curl >/dev/null 2>&1; then
      curl -fsS -o /dev/null "http://127.0.0.1:$port$path" && { say "ready on port $port"; return 0; }
    elif (exec 3<>"/dev/tcp/127.0.0.1/$port" && printf 'GET %s HTTP/1.0\r\n\r\n' "$path" >&3 && head -1 <&3 | grep -q ' 200 '); then
      say "ready on port $port"
      return 0
    fi
    sleep 1
  done
  die "the service did not become ready within 60 s: journalctl -u $NAME -n 50"
}

restart_service() {
  if [ "$start" = no ]; then
    say "--no-start: not calling systemctl"
    return 0
  fi
  run systemctl daemon-reload
  run systemctl enable "$NAME.service"
  run systemctl restart "$NAME.service"
  [ "$dry_run" = yes ] || wait_ready
}

do_install() {
  local source environment installed=no
  source=$(new_binary)
  if [ "$mode" = upgrade ] && [ ! -f "$BIN" ]; then
    die "--upgrade: nothing installed at $BIN yet (run without --upgrade first)"
  fi
  [ ! -f "$BIN" ] || installed=yes
  begin_changes
  install_config 0644 "$HERE/rules.yaml" "$RULES"
  if [ -e "$ENVFILE" ] && [ ${#env_settings[@]} -gt 0 ]; then
    say "$ENVFILE exists: --env ignored (edit the file instead)"
  fi
  environment=$(environment_source)
  # Read by systemd (root) only; it may hold the ARN and key hashes.
  install_config 0600 "$HERE/systemd/environment.example" "$ENVFILE" "$environment"
  rm -f "$environment"
  # The new executable checks the rules before it replaces the installed one: a release whose
  # check fails must not be left in place for the next restart to run against ExecStartPre.
  if ! check_rules "$source"; then
    # undo_changes (the EXIT trap) puts the files back.
    if [ "$installed" = yes ]; then
      die "$RULES does not validate with $ENVFILE (problems above): the installed release was kept as it was; the service was not (re)started"
    fi
    die "$RULES does not validate with $ENVFILE (problems above): nothing was installed, no file kept; the service was not (re)started"
  fi
  commit_changes
  swap_binary "$source" || true
  if install_file 0644 "$HERE/systemd/$NAME.service" "$UNIT"; then did "installed $UNIT" "install $UNIT"; else say "$UNIT unchanged"; fi
  restart_service
}

do_rollback() {
  [ -f "$PREVIOUS" ] || die "--rollback: no previous executable at $PREVIOUS"
  # Three renames; the executable path always names a complete file. Rolling back twice undoes it.
  run cp -p "$BIN" "$BIN.rollback"
  run mv -f "$PREVIOUS" "$BIN"
  run mv -f "$BIN.rollback" "$PREVIOUS"
  # After the renames $BIN is the previous executable; in a dry run it still is $PREVIOUS.
  local now=$BIN
  [ "$dry_run" = no ] || now=$PREVIOUS
  did "rolled back to $("$now" version 2>/dev/null || echo "$PREVIOUS")" "roll back to $("$now" version 2>/dev/null || echo "$PREVIOUS")"
  check_rules "$now" || die "$RULES does not validate with $ENVFILE (problems above); the service was not (re)started"
  restart_service
}

do_uninstall() {
  if [ "$start" = yes ]; then
    run systemctl disable --now "$NAME.service" || true
  fi
  run rm -f "$UNIT" "$BIN" "$PREVIOUS" "$BIN.new"
  run rm -rf "$SHARE"
  if [ "$start" = yes ]; then run systemctl daemon-reload; fi
  if [ "$purge" = yes ]; then
    run rm -rf "$CONF"
    did "removed $CONF" "remove $CONF"
  else
    did "kept the configuration in $CONF (--purge removes it)" "keep the configuration in $CONF (--purge removes it)"
  fi
  did "uninstalled" "uninstall"
}

prerequisites
case "$mode" in
  install | upgrade) do_install ;;
  rollback) do_rollback ;;
  uninstall) do_uninstall ;;
esac
