#!/usr/bin/env bash
# Per-install secrets: a random key for each secret the services read, and random staff
# tokens, written once into a directory (mode 0700, files 0600) and never printed to a log.
#   secrets.sh <dir>        create what is missing in <dir>; existing files are kept, so
#                           customer links and pseudonyms stay valid across runs
# Files: pseudonym_key, customer_link_secret, webhook_secret, session_secret (64 hex digits
# each), auth_tokens (token:role:staff_id,... for AUTH_TOKENS_FILE) and admin_password (the
# first admin's sign-in password, BOOTSTRAP_ADMIN_PASSWORD_FILE; it stays valid until the admin
# changes it in the console). Used by run.sh, and for
# docker-compose.yml (deploy/scripts/secrets.sh deploy/secrets).
set -euo pipefail

dir=${1:?usage: secrets.sh <dir>}
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

random_hex() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }

for name in pseudonym_key customer_link_secret webhook_secret session_secret; do
	[[ -s $dir/$name ]] || random_hex >"$dir/$name"
done
if [[ ! -s $dir/auth_tokens ]]; then
	# one token per role of a local run; the staff ids match the examples in the READMEs
	tokens=()
	for entry in agent:A001 agent:A002 supervisor:S001 admin:ADM1 integration:INT1; do
		tokens+=("${entry%%:*}-$(random_hex | cut -c1-24):$entry")
	done
	(IFS=,; echo "${tokens[*]}") >"$dir/auth_tokens"
fi
# 20 characters of an unambiguous alphabet: typed by a person at the first sign-in
# (no `tr </dev/urandom | head`: head closing the pipe kills tr with SIGPIPE, fatal under pipefail)
if [[ ! -s $dir/admin_password ]]; then
	pw=$(head -c 2000 /dev/urandom | LC_ALL=C tr -dc 'abcdefghjkmnpqrstuvwxyz23456789' | cut -c1-20)
	((${#pw} == 20)) || { echo "secrets: no randomness for admin_password" >&2; exit 1; }
	printf '%s' "$pw" >"$dir/admin_password"
fi
